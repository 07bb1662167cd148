"""Full-size model architectures as published, for benchmarks with random weights (no downloads).

Key fields of `unet/config.json` and `vae/config.json` in stable-diffusion-v1-5/stable-diffusion-v1-5 and
stabilityai/stable-diffusion-xl-base-1.0. Random weights give honest speed and memory; never quality.
"""

SD15_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=768, attention_head_dim=8,
)  # fmt: skip
SDXL_UNET = dict(
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), cross_attention_dim=2048,
    use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,
)  # fmt: skip
VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=32,
)  # fmt: skip

# Text and image encoders (transformers configs). CLIP ViT-L/14 text: `text_encoder/config.json` of both SD repos;
# OpenCLIP ViT-bigG/14 text: SDXL's `text_encoder_2/config.json`; the IP-Adapter image encoders: h94/IP-Adapter
# `models/image_encoder` (OpenCLIP ViT-H/14) and `sdxl_models/image_encoder` (ViT-bigG/14) config.json.
CLIP_L_TEXT = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                   max_position_embeddings=77, vocab_size=49408, projection_dim=768,
                   hidden_act="quick_gelu")  # fmt: skip
BIGG_TEXT = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
                 max_position_embeddings=77, vocab_size=49408, projection_dim=1280, hidden_act="gelu")  # fmt: skip
VIT_H_VISION = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
                    image_size=224, patch_size=14, projection_dim=1024, hidden_act="gelu")  # fmt: skip
VIT_BIGG_VISION = dict(hidden_size=1664, intermediate_size=8192, num_hidden_layers=48, num_attention_heads=16,
                       image_size=224, patch_size=14, projection_dim=1280, hidden_act="gelu")  # fmt: skip
#: The IP-Adapter image encoder folder → its vision config.
IMAGE_ENCODERS = {"models/image_encoder": VIT_H_VISION, "sdxl_models/image_encoder": VIT_BIGG_VISION}
