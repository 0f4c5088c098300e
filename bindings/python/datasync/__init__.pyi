from ._batch import Batch as Batch
from ._changes import ChangeStream as ChangeStream
from ._errors import AuthError as AuthError
from ._errors import CallbackError as CallbackError
from ._errors import CancelledError as CancelledError
from ._errors import ConfigError as ConfigError
from ._errors import ConnectionFailedError as ConnectionFailedError
from ._errors import DataError as DataError
from ._errors import Error as Error
from ._errors import InternalError as InternalError
from ._errors import InvalidArgumentError as InvalidArgumentError
from ._errors import IOFailureError as IOFailureError
from ._errors import NotFoundError as NotFoundError
from ._errors import OutOfMemoryError as OutOfMemoryError
from ._errors import SchemaError as SchemaError
from ._errors import StateError as StateError
from ._errors import TimedOutError as TimedOutError
from ._errors import UnsupportedError as UnsupportedError
from ._errors import error_class as error_class
from ._pipeline import Event as Event
from ._pipeline import Pipeline as Pipeline

__version__: str

def version() -> str: ...
def version_number() -> int: ...
