"""Command methods, one mixin per family. Each method only shapes arguments and
calls ``execute_command`` (the C engine routes, sends, parses and applies the
response callback). Reply parsers live next to their commands, in each module's
``RESPONSE_CALLBACKS``; ``FAMILY_CALLBACKS`` lists them for rediscluster/callbacks.py,
which merges them into the one dict."""

from .multikey import MultiKeyCommands
from .scripting import ScriptingCommands
from .server import ServerCommands
from .cluster import ClusterManagementCommands
from .pubsub import PubSubCommands
from .strings import StringCommands
from .keys import KeyCommands
from .hashes import HashCommands
from .lists import ListCommands
from .sets import SetCommands
from .sorted_sets import SortedSetCommands
from .geo import GeoCommands
from .streams import StreamCommands
from .hyperloglog import HyperLogLogCommands
from .multikey import RESPONSE_CALLBACKS as _multikey
from .scripting import RESPONSE_CALLBACKS as _scripting
from .server import RESPONSE_CALLBACKS as _server
from .cluster import RESPONSE_CALLBACKS as _cluster
from .pubsub import RESPONSE_CALLBACKS as _pubsub
from .strings import RESPONSE_CALLBACKS as _strings
from .keys import RESPONSE_CALLBACKS as _keys
from .hashes import RESPONSE_CALLBACKS as _hashes
from .lists import RESPONSE_CALLBACKS as _lists
from .sets import RESPONSE_CALLBACKS as _sets
from .sorted_sets import RESPONSE_CALLBACKS as _sorted_sets
from .geo import RESPONSE_CALLBACKS as _geo
from .streams import RESPONSE_CALLBACKS as _streams
from .hyperloglog import RESPONSE_CALLBACKS as _hyperloglog

__all__ = ["ClusterCommands", "FAMILY_CALLBACKS"]

FAMILY_CALLBACKS = [_multikey, _scripting, _server, _cluster, _pubsub, _strings, _keys, _hashes, _lists, _sets, _sorted_sets, _geo, _streams, _hyperloglog]


class ClusterCommands(
    MultiKeyCommands,
    ScriptingCommands,
    ServerCommands,
    ClusterManagementCommands,
    PubSubCommands,
    StringCommands,
    KeyCommands,
    HashCommands,
    ListCommands,
    SetCommands,
    SortedSetCommands,
    GeoCommands,
    StreamCommands,
    HyperLogLogCommands,
):
    """All command mixins combined (multi-key splitting first, so it wins)."""
