"""PubSubCommands: PUBLISH and the PUBSUB introspection commands.

PUBSUB CHANNELS/NUMSUB/NUMPAT go to every node and are merged (``aggregate``)
by the RESULT_CALLBACKS of rediscluster/callbacks.py; reply parsers are in
RESPONSE_CALLBACKS below. (The PubSub object itself lives elsewhere.)
"""


class PubSubCommands:
    """Publishing and pub/sub introspection (2.1.3 signatures)."""

    def publish(self, channel, message):
        """Publish ``message`` on ``channel``. The cluster delivers it to the
        subscribers of every node; the count returned is that of the node the
        message was sent to: the master of the channel's hash slot, where a
        ClusterPubSub subscribed to ``channel`` listens.
        https://redis.io/commands/publish"""
        # The engine routes PUBLISH by the channel's slot (csrc/client.c), with
        # the usual retries and topology refresh.
        return self.execute_command("PUBLISH", channel, message)

    def spublish(self, shard_channel, message):
        """Publish ``message`` on the shard channel ``shard_channel`` (Redis 7),
        routed by its slot; returns the number of receivers.
        https://redis.io/commands/spublish"""
        return self.execute_command("SPUBLISH", shard_channel, message)

    def pubsub_channels(self, pattern="*", aggregate=True):
        """Channels matching ``pattern`` with subscribers on any node, one list;
        ``aggregate=False``: ``{'host:port': [channels]}``.
        https://redis.io/commands/pubsub-channels"""
        return self.execute_command("PUBSUB CHANNELS", pattern, aggregate=aggregate)

    def pubsub_numpat(self, aggregate=True):
        """Number of pattern subscriptions summed over the nodes;
        ``aggregate=False``: ``{'host:port': n}``. https://redis.io/commands/pubsub-numpat"""
        return self.execute_command("PUBSUB NUMPAT", aggregate=aggregate)

    def pubsub_numsub(self, *args, **kwargs):
        """``[(channel, subscribers summed over the nodes)]`` for the channels in
        ``args``; ``aggregate=False``: ``{'host:port': [(channel, n)]}``.
        https://redis.io/commands/pubsub-numsub"""
        return self.execute_command("PUBSUB NUMSUB", *args,
                                    aggregate=kwargs.get("aggregate", True))

    def pubsub_shardchannels(self, pattern="*", aggregate=True):
        """Shard channels (Redis 7) matching ``pattern`` with subscribers, one
        list; ``aggregate=False``: per node. https://redis.io/commands/pubsub-shardchannels"""
        return self.execute_command("PUBSUB SHARDCHANNELS", pattern, aggregate=aggregate)

    def pubsub_shardnumsub(self, *args, **kwargs):
        """``[(shard channel, subscribers summed over the nodes)]`` (Redis 7);
        ``aggregate=False``: per node. https://redis.io/commands/pubsub-shardnumsub"""
        return self.execute_command("PUBSUB SHARDNUMSUB", *args,
                                    aggregate=kwargs.get("aggregate", True))


def parse_pubsub_numsub(response, **options):
    """[channel, n, ...] -> [(channel, n), ...]."""
    return list(zip(response[0::2], response[1::2]))


#: upper-case command name -> reply parser, for the commands of this module
RESPONSE_CALLBACKS = {
    "PUBSUB NUMSUB": parse_pubsub_numsub,
    "PUBSUB SHARDNUMSUB": parse_pubsub_numsub,
}

__all__ = ["PubSubCommands", "RESPONSE_CALLBACKS", "parse_pubsub_numsub"]
