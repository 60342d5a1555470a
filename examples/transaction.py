"""Transactions: MULTI/EXEC with optimistic locking (WATCH).

In a cluster a transaction runs on one node, so every key it touches must be in
one hash slot: put the same {hash tag} in the keys ({acct} below).
Usage: python examples/transaction.py [host] [port]
"""

import sys

from rediscluster import RedisCluster
from rediscluster.exceptions import WatchError

BALANCE = "example:{acct}:balance"
HISTORY = "example:{acct}:history"


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 7000
    rc = RedisCluster(host=host, port=port, decode_responses=True)
    print("both keys are in slot", rc.keyslot(BALANCE), "and", rc.keyslot(HISTORY))
    try:
        rc.set(BALANCE, 100)

        # 1. A plain MULTI/EXEC: the queued commands run atomically.
        pipe = rc.pipeline(transaction=True)
        print("multi/exec ->", pipe.incrby(BALANCE, 50).rpush(HISTORY, "+50").execute())

        # 2. Check-and-set with rc.transaction(): it WATCHes the key, runs the
        #    function, and runs it again if another client changed the key
        #    before EXEC. Before pipe.multi() the pipeline executes at once (reads);
        #    after it, commands are queued.
        def withdraw(pipe):
            balance = int(pipe.get(BALANCE))
            if balance < 30:
                raise ValueError("insufficient funds")
            pipe.multi()
            pipe.set(BALANCE, balance - 30)
            pipe.rpush(HISTORY, "-30")

        print("withdraw 30 ->", rc.transaction(withdraw, BALANCE))
        print("balance ->", rc.get(BALANCE), "| history ->", rc.lrange(HISTORY, 0, -1))

        # 3. The same by hand, with a concurrent change in between: EXEC is
        #    refused and WatchError raised (rc.transaction() would retry).
        with rc.pipeline(transaction=True) as pipe:
            pipe.watch(BALANCE)
            balance = int(pipe.get(BALANCE))
            rc.incrby(BALANCE, 1)  # "another client" changes the watched key
            pipe.multi()
            pipe.set(BALANCE, balance * 2)
            try:
                pipe.execute()
                print("unexpected: EXEC went through")
            except WatchError:
                print("WatchError: %s changed after WATCH; nothing was written" % BALANCE)
        print("final balance ->", rc.get(BALANCE))
    finally:
        print("deleted", rc.delete(BALANCE, HISTORY), "keys")
        rc.close()


if __name__ == "__main__":
    main()
