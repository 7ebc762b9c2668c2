"""The one error type users see: any GristmillError is printed as `gristmill: error: ...`
(exit 2) by the command line, without a traceback. Areas subclass it for their own
user-facing errors (a bad option, an infeasible mixture); anything else is a bug."""


class GristmillError(Exception):
    """A problem with what the user asked for (config, options, inputs), not a crash."""


class CliError(GristmillError):
    """A bad command-line option or combination of options."""


class InputError(GristmillError, ValueError):
    """The data a stage was given cannot do what was asked (too few documents to fit k topics,
    no negative text to train on): the user's inputs, not a crash, so no traceback."""
