"""Exception types of the mapping layer; messages say what the user can do about it."""


class MappingError(Exception):
    """Base class for every error raised by mapping/."""


class CanonicalFaceError(MappingError):
    """The canonical face could not be read from the model file."""


class PoseError(MappingError):
    """Head pose could not be estimated from the given landmarks."""


class CalibrationError(MappingError):
    """A calibration could not be captured, read or written."""


class RetargetError(MappingError):
    """A mapping table or preset is invalid."""


class LiveLinkError(MappingError):
    """A Live Link Face CSV file could not be read or written."""
