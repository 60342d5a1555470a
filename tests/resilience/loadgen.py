"""A bounded, self-checking load for the fault tests.

``Load`` runs N threads that share one client. Each thread owns its keys (no
other thread writes them), so it knows what the server may hold:

* a string key ``k`` holds ``b"<k>:<seq>"``; ``seq`` comes from a per-thread
  counter, so every value written is unique and names its key;
* a counter key starts at ``base = (i + 1) * 10**9`` (``i`` unique over the
  whole load), so the reply of an INCR tells which counter it came from.

Every reply is checked against the writes issued so far:

* **wrong** (a bug: must be 0 in every test): a GET value that names another
  key, does not parse, or carries a seq never written to that key; a SET that
  returned anything but ``True``; an INCR reply that is not an int of this
  counter's range or is larger than the number of INCRs issued allows; nil for
  a key that was written before the load started (nothing deletes keys).
* **lost acknowledged write**: a GET that returns an *earlier* value than the
  last write acknowledged on that key (a SET that returned ``True``), that
  earlier value itself having been acknowledged; an INCR reply not above the
  last acknowledged one. Possible only when a master dies before it replicates
  (asynchronous replication), so it is counted, and each test decides.
* **late write**: a GET that returns an earlier value whose SET had raised
  (outcome unknown). After a timeout the server may still apply the abandoned
  write later, even after a newer one: allowed, counted.
* **unknown outcome**: a write (SET, INCR, or a write inside a pipeline) that
  raised. The engine never re-sends a write whose bytes left (docs/engine.md),
  so it may or may not have been applied; both are accepted afterwards.

Operations: SET, GET, INCR and a pipeline (SET+GET on three keys, an INCR and
a GET of a fourth key: 8 results, checked position by position). Each thread runs
at most ``max_ops`` operations, paced to ``rate`` per second, and stops when
told to. Every operation's start, duration and outcome is kept, so the tests
can say when errors happened and how long one call took at most.
"""

import random
import subprocess
import threading
import time
import traceback
from collections import Counter

# an operation outcome
OK, ERROR, WRONG = 0, 1, 2
# an operation slower than this (seconds) counts as disrupted service
SLOW = 0.25


def wait_until(predicate, timeout, interval=0.05):
    """Poll until ``predicate()`` is truthy (exceptions count as false);
    return the monotonic time it became true, or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return time.monotonic()
        except Exception:  # noqa: BLE001 - a node may be down or restarting
            pass
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def run_subprocess(args, timeout):
    """Run a tool; return (exit code, seconds, output tail)."""
    t0 = time.monotonic()
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)
    return proc.returncode, time.monotonic() - t0, proc.stdout[-2000:]


def error_name(exc):
    return type(exc).__name__


class KeyState:
    """What one thread wrote to one string key."""

    __slots__ = ("key", "kb", "floor", "acked", "unknown", "max_seq")

    def __init__(self, key):
        self.key = key
        self.kb = key.encode()
        self.floor = 0  # seq of the last acknowledged write (0: the initial value)
        self.acked = {0}  # every acknowledged seq
        self.unknown = set()  # seqs of writes that raised
        self.max_seq = 0

    def value(self, seq):
        return b"%s:%d" % (self.kb, seq)


class CounterState:
    __slots__ = ("key", "base", "lo", "issued")

    def __init__(self, key, base):
        self.key = key
        self.base = base
        self.lo = base  # last acknowledged value (the server holds >= lo)
        self.issued = 0  # INCRs sent, acknowledged or not


class Worker(threading.Thread):
    def __init__(self, load, index, keys, counters, seed):
        super().__init__(name="load-%d" % index, daemon=True)
        self.load = load
        self.index = index
        self.keys = [KeyState(k) for k in keys]
        self.counters = [CounterState(k, b) for k, b in counters]
        self.rng = random.Random(seed)
        self.seq = 0
        self.ops = []  # (start, duration, outcome, op name)
        self.errors = []  # (time, op, key, exception type name, message, class)
        self.wrong = []  # (time, op, key, description)
        self.lost = []  # (time, key, description)
        self.late = 0
        self.unknown = 0
        self.done = False
        self.crash = None

    # -- checks

    def _wrong(self, op, key, what):
        self.wrong.append((time.monotonic(), op, key, what))
        return WRONG

    def check_get(self, st, got, op="get"):
        if got is None:
            return self._wrong(op, st.key, "nil (the key was written before the load)")
        if not isinstance(got, bytes):
            return self._wrong(op, st.key, "not bytes: %r" % (got,))
        name, sep, tail = got.rpartition(b":")
        if not sep or name != st.kb or not tail.isdigit():
            return self._wrong(op, st.key, "value of another key or garbage: %r" % got)
        seq = int(tail)
        if seq not in st.acked and seq not in st.unknown:
            return self._wrong(op, st.key, "seq %d was never written to it: %r" % (seq, got))
        if seq >= st.floor:
            return OK
        if seq in st.unknown:
            self.late += 1  # an abandoned write applied late
            return OK
        self.lost.append((time.monotonic(), st.key,
                          "read seq %d after seq %d was acknowledged" % (seq, st.floor)))
        st.floor = seq  # the server holds this now: later reads are checked from here
        return OK

    def check_set(self, st, seq, result, op="set"):
        if isinstance(result, Exception):
            self.unknown += 1
            st.unknown.add(seq)
            return self.fail(op, st.key, result)
        if result is not True:
            st.unknown.add(seq)  # cannot tell: do not count it twice
            return self._wrong(op, st.key, "SET returned %r" % (result,))
        st.acked.add(seq)
        st.floor = seq
        return OK

    def check_incr(self, ct, result, op="incr"):
        if isinstance(result, Exception):
            self.unknown += 1
            return self.fail(op, ct.key, result)
        if type(result) is not int:
            return self._wrong(op, ct.key, "INCR returned %r" % (result,))
        if not ct.base < result <= ct.base + ct.issued:
            return self._wrong(op, ct.key, "INCR returned %d, outside (%d, %d]"
                               % (result, ct.base, ct.base + ct.issued))
        if result <= ct.lo:
            self.lost.append((time.monotonic(), ct.key,
                              "INCR returned %d after %d was acknowledged" % (result, ct.lo)))
        ct.lo = result
        return OK

    def fail(self, op, key, exc):
        self.errors.append((time.monotonic(), op, key, error_name(exc), str(exc)[:200], type(exc)))
        return ERROR

    # -- operations

    def next_seq(self, st):
        self.seq += 1
        st.max_seq = self.seq
        return self.seq

    def op_set(self, rc):
        st = self.rng.choice(self.keys)
        seq = self.next_seq(st)
        try:
            result = rc.set(st.key, st.value(seq))
        except Exception as e:  # noqa: BLE001 - every failure is counted by type
            result = e
        return self.check_set(st, seq, result)

    def op_get(self, rc):
        st = self.rng.choice(self.keys)
        try:
            got = rc.get(st.key)
        except Exception as e:  # noqa: BLE001
            return self.fail("get", st.key, e)
        return self.check_get(st, got)

    def op_incr(self, rc):
        ct = self.rng.choice(self.counters)
        ct.issued += 1
        try:
            result = rc.incr(ct.key)
        except Exception as e:  # noqa: BLE001
            result = e
        return self.check_incr(ct, result)

    def op_pipeline(self, rc):
        picked = self.rng.sample(self.keys, 4)
        ct = self.rng.choice(self.counters)
        seqs = []
        try:
            pipe = rc.pipeline()
            for st in picked[:3]:
                seq = self.next_seq(st)
                seqs.append(seq)
                pipe.set(st.key, st.value(seq))
                pipe.get(st.key)
            ct.issued += 1
            pipe.incr(ct.key)
            pipe.get(picked[3].key)
            results = pipe.execute(raise_on_error=False)
        except Exception as e:  # noqa: BLE001 - the pipeline as a whole raised
            for st, seq in zip(picked, seqs):
                st.unknown.add(seq)
            self.unknown += len(seqs) + 1
            return self.fail("pipeline", picked[0].key, e)
        if not isinstance(results, list) or len(results) != 8:
            for st, seq in zip(picked, seqs):
                st.unknown.add(seq)
            return self._wrong("pipeline", picked[0].key, "results %r" % (results,))
        outcome = OK
        for i, (st, seq) in enumerate(zip(picked, seqs)):
            outcome = max(outcome, self.check_set(st, seq, results[2 * i], "pipeline"))
            got = results[2 * i + 1]
            if isinstance(got, Exception):
                outcome = max(outcome, self.fail("pipeline", st.key, got))
            else:
                outcome = max(outcome, self.check_get(st, got, "pipeline"))
        outcome = max(outcome, self.check_incr(ct, results[6], "pipeline"))
        got = results[7]
        if isinstance(got, Exception):
            outcome = max(outcome, self.fail("pipeline", picked[3].key, got))
        else:
            outcome = max(outcome, self.check_get(picked[3], got, "pipeline"))
        return outcome

    # -- loop

    def run(self):
        load = self.load
        rc = load.client
        ops = (("set", self.op_set), ("get", self.op_get), ("incr", self.op_incr),
               ("pipeline", self.op_pipeline))
        weights = load.weights
        interval = 1.0 / load.rate if load.rate else 0.0
        next_t = time.monotonic()
        try:
            while not load.stop_event.is_set() and len(self.ops) < load.max_ops:
                if interval:
                    now = time.monotonic()
                    if now < next_t:
                        time.sleep(next_t - now)
                    next_t = max(next_t + interval, time.monotonic() - 0.05)
                name, fn = self.rng.choices(ops, weights)[0]
                t0 = time.monotonic()
                outcome = fn(rc)
                self.ops.append((t0, time.monotonic() - t0, outcome, name))
        except BaseException as e:  # a bug in the checks themselves: report it
            self.crash = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        finally:
            self.done = True


class Load:
    """``threads`` workers sharing ``client``; see the module docstring.

    ``keys``: a list of key names, dealt round-robin to the threads (each key
    belongs to one thread); ``counters``: likewise, counter key names.
    """

    def __init__(self, client, keys, counters, threads=4, max_ops=50000, rate=1000,
                 weights=(30, 35, 15, 20), seed=1):
        self.client = client
        self.threads = threads
        self.max_ops = max_ops
        self.rate = rate
        self.weights = weights
        self.stop_event = threading.Event()
        self.started = None
        self.stopped = None
        self.events = []  # (time, label)
        self.workers = [
            Worker(self, i, keys[i::threads],
                   [(k, (j + 1) * 10 ** 9) for j, k in enumerate(counters) if j % threads == i],
                   seed * 1000 + i)
            for i in range(threads)
        ]

    # -- set-up

    def initial_commands(self):
        """(command, key, value) that give every key its initial value."""
        out = []
        for w in self.workers:
            for st in w.keys:
                out.append(("SET", st.key, st.value(0)))
            for ct in w.counters:
                out.append(("SET", ct.key, str(ct.base).encode()))
        return out

    def key_names(self):
        return [st.key for w in self.workers for st in w.keys] + \
            [ct.key for w in self.workers for ct in w.counters]

    # -- running

    def start(self):
        self.started = time.monotonic()
        for w in self.workers:
            w.start()

    def mark(self, label):
        t = time.monotonic()
        self.events.append((t, label))
        return t

    def stop(self, join_timeout):
        """Stop the workers; return the names of those still running after
        ``join_timeout`` seconds (stuck threads)."""
        self.stop_event.set()
        deadline = time.monotonic() + join_timeout
        for w in self.workers:
            w.join(max(0.0, deadline - time.monotonic()))
        self.stopped = time.monotonic()
        return [w.name for w in self.workers if w.is_alive()]

    # -- figures

    def all_ops(self):
        return [op for w in self.workers for op in w.ops]

    def all_errors(self):
        return sorted((e for w in self.workers for e in w.errors), key=lambda e: e[0])

    def all_wrong(self):
        return sorted((x for w in self.workers for x in w.wrong), key=lambda x: x[0])

    def all_lost(self):
        return sorted((x for w in self.workers for x in w.lost), key=lambda x: x[0])

    def crashes(self):
        return [w.crash for w in self.workers if w.crash]

    def ops_between(self, t0, t1):
        """Operations that started in [t0, t1)."""
        return [op for op in self.all_ops() if t0 <= op[0] < t1]

    def errors_between(self, t0, t1):
        return [e for e in self.all_errors() if t0 <= e[0] < t1]

    def last_error_time(self):
        errors = self.all_errors()
        return errors[-1][0] if errors else None

    def disrupted_until(self, since, until=float("inf"), slow=SLOW):
        """End time of the last operation that ended in [since, until) and
        failed or took longer than ``slow`` seconds (None if there is none):
        until then, some caller was not served normally."""
        last = None
        for t0, dt, outcome, _ in self.all_ops():
            end = t0 + dt
            if since <= end < until and (outcome != OK or dt > slow) and \
                    (last is None or end > last):
                last = end
        return last

    def quiet_since(self, seconds, min_ops=1):
        """True if no operation failed in the last ``seconds`` and every thread
        finished at least ``min_ops`` operations in that time."""
        now = time.monotonic()
        last = self.last_error_time()
        if last is not None and now - last < seconds:
            return False
        t0 = now - seconds
        for w in self.workers:
            done = 0
            for op in reversed(w.ops):
                if op[0] < t0:
                    break
                done += 1
            if done < min_ops:
                return False
        return True

    def summary(self):
        ops = self.all_ops()
        errors = self.all_errors()
        return {
            "threads": self.threads,
            "ops": len(ops),
            "ops_by_type": dict(Counter(op[3] for op in ops)),
            "failed_ops": sum(1 for op in ops if op[2] == ERROR),
            "errors": dict(Counter(e[3] for e in errors)),
            "wrong": len(self.all_wrong()),
            "lost_acked": len(self.all_lost()),
            "late_writes": sum(w.late for w in self.workers),
            "unknown_outcome": sum(w.unknown for w in self.workers),
            "max_latency_s": round(max((op[1] for op in ops), default=0.0), 3),
            "duration_s": round((self.stopped or time.monotonic()) - self.started, 2),
        }

    # -- the final read-back

    def final_check(self, read):
        """Read every key with ``read(key) -> bytes or None`` (not the client
        under test) and compare with what was acknowledged. Returns
        ``(lost, wrong)`` lists of descriptions; the workers must have stopped."""
        lost, wrong = [], []
        for w in self.workers:
            for st in w.keys:
                got = read(st.key)
                name, _, tail = (got or b"").rpartition(b":")
                if got is None or name != st.kb or not tail.isdigit():
                    wrong.append("%s holds %r" % (st.key, got))
                    continue
                seq = int(tail)
                if seq not in st.acked and seq not in st.unknown:
                    wrong.append("%s holds seq %d, never written" % (st.key, seq))
                elif seq < st.floor and seq not in st.unknown:
                    lost.append("%s holds seq %d, seq %d was acknowledged"
                                % (st.key, seq, st.floor))
            for ct in w.counters:
                got = read(ct.key)
                if got is None or not got.isdigit():
                    wrong.append("%s holds %r" % (ct.key, got))
                    continue
                value = int(got)
                if not ct.base <= value <= ct.base + ct.issued:
                    wrong.append("%s holds %d, outside [%d, %d]"
                                 % (ct.key, value, ct.base, ct.base + ct.issued))
                elif value < ct.lo:
                    lost.append("%s holds %d, %d was acknowledged" % (ct.key, value, ct.lo))
        return lost, wrong
