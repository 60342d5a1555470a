"""Password-protected clusters: the password (and ACL user name) in the URL.

    redis://:PASSWORD@host:port             the default user (requirepass)
    redis://USER:PASSWORD@host:port         an ACL user (Redis 6+)

The local auth cluster (`make cluster-start-auth`) has the default password
rc-default-secret and the ACL user rcuser / rcuser-secret (test values).
Usage: python examples/from_url_password_protected.py [password-url] [acl-user-url]
"""

import sys
from urllib.parse import urlsplit

from rediscluster import RedisCluster


def hide_password(url):
    parts = urlsplit(url)
    return url.replace(":%s@" % parts.password, ":***@") if parts.password else url


def try_it(url):
    # from_url passes the credentials to every node connection (AUTH, or HELLO
    # with the user name); the same as RedisCluster(host=..., port=...,
    # password=..., username=...).
    rc = RedisCluster.from_url(url, decode_responses=True)
    try:
        print("%s: set -> %s, get -> %s" % (
            hide_password(url), rc.set("example:auth", "ok"), rc.get("example:auth")))
    finally:
        rc.delete("example:auth")
        rc.close()


def main():
    default = "redis://:rc-default-secret@127.0.0.1:7010"
    url = sys.argv[1] if len(sys.argv) > 1 else default
    if len(sys.argv) > 2:
        acl_url = sys.argv[2]
    else:
        parts = urlsplit(url)
        acl_url = "redis://rcuser:rcuser-secret@%s:%d" % (
            parts.hostname, parts.port or 6379)

    try_it(url)      # the password alone
    try_it(acl_url)  # ACL user name + password
    print("done")


if __name__ == "__main__":
    main()
