"""Error types that teach: each says what happened and what to do next.

Front-ends map these to their own surface (a `gr.Error` toast, a CLI exit code, a JSON error), so the
message is written for the person using the studio, not for a stack trace.
"""


class StudioError(Exception):
    """Base class for every error the studio raises on purpose."""

    #: Process exit code the CLI uses for this kind of error.
    exit_code = 1


class InputError(StudioError, ValueError):
    """The user's input cannot be used (wrong file type, corrupt, too large, out of range)."""

    exit_code = 2


class NoFaceFound(InputError):
    """No face could be detected where the app needs one."""

    def __init__(self, what: str = "the photo", hint: str | None = None):
        self.what = what
        super().__init__(
            f"No face found in {what}. "
            + (hint or "Use a photo where the face is clearly visible, roughly frontal, and at least ~64 px across.")
        )


class NoPersonFound(InputError):
    """No body pose could be detected where the app needs a person."""

    def __init__(self, what: str = "the photo", hint: str | None = None):
        self.what = what
        super().__init__(
            f"No person found in {what}. "
            + (hint or "Use a photo that shows the person's head, shoulders and hips, facing the camera.")
        )


class ModelUnavailable(StudioError):
    """Weights a tier needs are not on this machine (and could not, or may not, be downloaded)."""

    exit_code = 3

    def __init__(self, message: str, fetch_command: str | None = None):
        self.fetch_command = fetch_command
        if fetch_command:
            message = f"{message} Fetch them with: {fetch_command}"
        super().__init__(message)


class PreprocessorUnavailable(ModelUnavailable):
    """An annotator or face pack needs files that are not present locally."""


class RunCancelled(StudioError):
    """The user (or a disconnected client) cancelled the run; nothing was returned."""

    exit_code = 130  # the shell's code for an interrupted command

    def __init__(self, message: str = "The run was cancelled; nothing was returned."):
        super().__init__(message)
