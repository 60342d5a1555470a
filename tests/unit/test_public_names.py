"""Every public name of redis-py-cluster 2.1.3's classes (including what they
inherit from redis-py 3.5.3) exists in ours (issue 17). The lists were taken
from the original with dir(); what each one does is compared with the original
by the differential suite (tests/compat)."""

import importlib

import pytest

NAMES = {
    ('rediscluster.client', 'RedisCluster'): (
        'CLUSTER_COMMANDS_RESPONSE_CALLBACKS NODES_FLAGS RESPONSE_CALLBACKS RESULT_CALLBACKS '
        'RedisClusterRequestTTL __enter__ __exit__ acl_cat acl_deluser acl_genpass '
        'acl_getuser acl_list acl_load acl_save acl_setuser acl_users acl_whoami append '
        'bgrewriteaof bgsave bitcount bitfield bitop bitpos blpop brpop brpoplpush bzpopmax '
        'bzpopmin client client_getname client_id client_kill client_kill_filter client_list '
        'client_pause client_setname client_unblock close cluster cluster_addslots '
        'cluster_count_failure_report cluster_countkeysinslot cluster_delslots '
        'cluster_failover cluster_get_keys_in_slot cluster_info cluster_keyslot cluster_meet '
        'cluster_nodes cluster_replicate cluster_reset cluster_reset_all_nodes '
        'cluster_save_config cluster_set_config_epoch cluster_setslot cluster_slaves '
        'cluster_slots config_get config_resetstat config_rewrite config_set dbsize '
        'debug_object decr decrby delete determine_node dump echo eval evalsha '
        'execute_command exists expire expireat flushall flushdb from_url geoadd geodist '
        'geohash geopos georadius georadiusbymember get getbit getrange getset hdel hexists '
        'hget hgetall hincrby hincrbyfloat hkeys hlen hmget hmset hscan hscan_iter hset '
        'hsetnx hstrlen hvals incr incrby incrbyfloat info keys lastsave lindex linsert llen '
        'lock lpop lpush lpushx lrange lrem lset ltrim memory_purge memory_stats memory_usage '
        'mget migrate monitor move mset msetnx object parse_response persist pexpire '
        'pexpireat pfadd pfcount pfmerge ping pipeline psetex pttl publish pubsub '
        'pubsub_channels pubsub_numpat pubsub_numsub randomkey readonly readwrite '
        'register_script rename renamenx restore rpop rpoplpush rpush rpushx sadd save scan '
        'scan_iter scard script_exists script_flush script_kill script_load sdiff sdiffstore '
        'sentinel sentinel_get_master_addr_by_name sentinel_master sentinel_masters '
        'sentinel_monitor sentinel_remove sentinel_sentinels sentinel_set sentinel_slaves set '
        'set_response_callback set_result_callback setbit setex setnx setrange shutdown '
        'sinter sinterstore sismember slaveof slowlog_get slowlog_len slowlog_reset smembers '
        'smove sort spop srandmember srem sscan sscan_iter strlen substr sunion sunionstore '
        'swapdb time touch transaction ttl type unlink unwatch wait watch xack xadd xclaim '
        'xdel xgroup_create xgroup_delconsumer xgroup_destroy xgroup_setid xinfo_consumers '
        'xinfo_groups xinfo_stream xlen xpending xpending_range xrange xread xreadgroup '
        'xrevrange xtrim zadd zcard zcount zincrby zinterstore zlexcount zpopmax zpopmin '
        'zrange zrangebylex zrangebyscore zrank zrem zremrangebylex zremrangebyrank '
        'zremrangebyscore zrevrange zrevrangebylex zrevrangebyscore zrevrank zscan zscan_iter '
        'zscore zunionstore'
    ).split(),
    ('rediscluster.pipeline', 'ClusterPipeline'): (
        'CLUSTER_COMMANDS_RESPONSE_CALLBACKS NODES_FLAGS RESPONSE_CALLBACKS RESULT_CALLBACKS '
        'RedisClusterRequestTTL __bool__ __enter__ __exit__ __len__ acl_cat acl_deluser '
        'acl_genpass acl_getuser acl_list acl_load acl_save acl_setuser acl_users acl_whoami '
        'annotate_exception append bgrewriteaof bgsave bitcount bitfield bitop bitpos blpop '
        'brpop brpoplpush bzpopmax bzpopmin client client_getname client_id client_kill '
        'client_kill_filter client_list client_pause client_setname client_unblock close '
        'cluster cluster_addslots cluster_count_failure_report cluster_countkeysinslot '
        'cluster_delslots cluster_failover cluster_get_keys_in_slot cluster_info '
        'cluster_keyslot cluster_meet cluster_nodes cluster_replicate cluster_reset '
        'cluster_reset_all_nodes cluster_save_config cluster_set_config_epoch cluster_setslot '
        'cluster_slaves cluster_slots config_get config_resetstat config_rewrite config_set '
        'dbsize debug_object decr decrby delete determine_node dump echo eval evalsha execute '
        'execute_command exists expire expireat flushall flushdb from_url geoadd geodist '
        'geohash geopos georadius georadiusbymember get getbit getrange getset hdel hexists '
        'hget hgetall hincrby hincrbyfloat hkeys hlen hmget hmset hscan hscan_iter hset '
        'hsetnx hstrlen hvals immediate_execute_command incr incrby incrbyfloat info keys '
        'lastsave lindex linsert llen load_scripts lock lpop lpush lpushx lrange lrem lset '
        'ltrim memory_purge memory_stats memory_usage mget migrate monitor move mset msetnx '
        'multi object parse_response persist pexpire pexpireat pfadd pfcount pfmerge ping '
        'pipeline pipeline_execute_command psetex pttl publish pubsub pubsub_channels '
        'pubsub_numpat pubsub_numsub raise_first_error randomkey readonly readwrite '
        'register_script rename renamenx reset restore rpop rpoplpush rpush rpushx sadd save '
        'scan scan_iter scard script_exists script_flush script_kill script_load '
        'script_load_for_pipeline sdiff sdiffstore send_cluster_commands sentinel '
        'sentinel_get_master_addr_by_name sentinel_master sentinel_masters sentinel_monitor '
        'sentinel_remove sentinel_sentinels sentinel_set sentinel_slaves set '
        'set_response_callback set_result_callback setbit setex setnx setrange shutdown '
        'sinter sinterstore sismember slaveof slowlog_get slowlog_len slowlog_reset smembers '
        'smove sort spop srandmember srem sscan sscan_iter strlen substr sunion sunionstore '
        'swapdb time touch transaction ttl type unlink unwatch wait watch xack xadd xclaim '
        'xdel xgroup_create xgroup_delconsumer xgroup_destroy xgroup_setid xinfo_consumers '
        'xinfo_groups xinfo_stream xlen xpending xpending_range xrange xread xreadgroup '
        'xrevrange xtrim zadd zcard zcount zincrby zinterstore zlexcount zpopmax zpopmin '
        'zrange zrangebylex zrangebyscore zrank zrem zremrangebylex zremrangebyrank '
        'zremrangebyscore zrevrange zrevrangebylex zrevrangebyscore zrevrank zscan zscan_iter '
        'zscore zunionstore'
    ).split(),
    ('rediscluster.pubsub', 'ClusterPubSub'): (
        'HEALTH_CHECK_MESSAGE PUBLISH_MESSAGE_TYPES UNSUBSCRIBE_MESSAGE_TYPES __enter__ '
        '__exit__ check_health close execute_command get_message handle_message listen '
        'on_connect parse_response ping psubscribe punsubscribe reset run_in_thread subscribe '
        'subscribed unsubscribe'
    ).split(),
    ('rediscluster.connection', 'ClusterConnectionPool'): (
        'RedisClusterDefaultTimeout count_all_num_connections disconnect from_url '
        'get_connection get_connection_by_key get_connection_by_node get_connection_by_slot '
        'get_encoder get_master_node_by_slot get_node_by_slot get_random_connection '
        'make_connection owns_connection release reset'
    ).split(),
    ('rediscluster.connection', 'ClusterBlockingConnectionPool'): (
        'RedisClusterDefaultTimeout count_all_num_connections disconnect from_url '
        'get_connection get_connection_by_key get_connection_by_node get_connection_by_slot '
        'get_encoder get_master_node_by_slot get_node_by_slot get_random_connection '
        'make_connection owns_connection release reset'
    ).split(),
    ('rediscluster.connection', 'ClusterReadOnlyConnectionPool'): (
        'RedisClusterDefaultTimeout count_all_num_connections disconnect from_url '
        'get_connection get_connection_by_key get_connection_by_node get_connection_by_slot '
        'get_encoder get_master_connection_by_slot get_master_node_by_slot get_node_by_slot '
        'get_node_by_slot_random get_random_connection '
        'get_random_master_slave_connection_by_slot make_connection owns_connection release '
        'reset'
    ).split(),
    ('rediscluster.connection', 'ClusterWithReadReplicasConnectionPool'): (
        'RedisClusterDefaultTimeout count_all_num_connections disconnect from_url '
        'get_connection get_connection_by_key get_connection_by_node get_connection_by_slot '
        'get_encoder get_master_node_by_slot get_node_by_slot get_random_connection '
        'make_connection owns_connection release reset'
    ).split(),
    ('rediscluster.connection', 'ClusterConnection'): (
        'can_read check_health clear_connect_callbacks connect disconnect on_connect '
        'pack_command pack_commands read_response register_connect_callback repr_pieces '
        'send_command send_packed_command'
    ).split(),
    ('rediscluster.connection', 'SSLClusterConnection'): (
        'can_read check_health clear_connect_callbacks connect disconnect on_connect '
        'pack_command pack_commands read_response register_connect_callback repr_pieces '
        'send_command send_packed_command'
    ).split(),
    ('rediscluster.nodemanager', 'NodeManager'): (
        'REDIS_CLUSTER_HASH_SLOTS all_masters all_nodes cluster_require_full_coverage '
        'get_redis_link increment_reinitialize_counter initialize keyslot make_node_obj '
        'node_from_slot populate_startup_nodes random_node random_startup_node '
        'random_startup_node_ittr remap_internal_node_object reset set_node set_node_name'
    ).split(),
}

#: module-level names of 2.1.3's modules that code imports
MODULE_NAMES = {
    "rediscluster": "AskError ClusterBlockingConnectionPool ClusterConnection ClusterConnectionPool "
                    "ClusterCrossSlotError ClusterDownError ClusterDownException ClusterError "
                    "ClusterPipeline MasterDownError MovedError RedisCluster RedisClusterError "
                    "RedisClusterException TryAgainError VERSION int_or_str utils crc",
    "rediscluster.connection": "ClusterParser ClusterConnection SSLClusterConnection Connection "
                               "SSLConnection UnixDomainSocketConnection ClusterConnectionPool "
                               "ClusterBlockingConnectionPool ClusterReadOnlyConnectionPool "
                               "ClusterWithReadReplicasConnectionPool by_node_context",
    "rediscluster.utils": "bool_ok string_keys_to_dict dict_merge blocked_command merge_result "
                          "first_key nslookup parse_cluster_slots parse_cluster_nodes "
                          "parse_pubsub_channels parse_pubsub_numpat parse_pubsub_numsub",
    "rediscluster.pipeline": "ClusterPipeline PipelineCommand ERRORS_ALLOW_RETRY",
    "rediscluster.nodemanager": "NodeManager",
    "rediscluster.pubsub": "ClusterPubSub",
    "rediscluster.crc": "crc16 x_mode_m_crc16_lookup",
}


@pytest.mark.parametrize("where", sorted(NAMES), ids=lambda w: w[1])
def test_every_public_name_of_2_1_3_exists(where):
    module, cls = where
    ours = getattr(importlib.import_module(module), cls)
    missing = [name for name in NAMES[where] if not hasattr(ours, name)]
    assert not missing, "%s lacks %s" % (cls, missing)


@pytest.mark.parametrize("module", sorted(MODULE_NAMES))
def test_module_names_of_2_1_3_exist(module):
    mod = importlib.import_module(module)
    missing = [name for name in MODULE_NAMES[module].split() if not hasattr(mod, name)]
    assert not missing, "%s lacks %s" % (module, missing)


def test_pipeline_blocked_methods_raise_before_queueing():
    """2.1.3's blocked pipeline methods raise RedisClusterException at call
    time, without a cluster (the differential suite compares the rest)."""
    from rediscluster.exceptions import RedisClusterException
    from rediscluster.pipeline import ClusterPipeline

    for name in ("bitop", "publish", "script_load", "keys", "ping", "move", "sort"):
        with pytest.raises(RedisClusterException, match="is blocked when running redis in cluster"):
            getattr(ClusterPipeline, name)(None, "a", "b")
