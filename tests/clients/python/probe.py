"""Probe: what a nats-py (the Python client) user does, printed as deterministic lines (no
times, ids or inboxes), so the output against rnats can be diffed with the output against
the reference nats-server. tests/tests/clients.rs runs it.

Usage: probe.py URL   (a server started with -js -sd DIR)

Every step prints its result or its error's type and goes on, so one difference does not
hide the next ones.
"""
import asyncio
import sys

import nats
from nats.errors import NoRespondersError, TimeoutError
from nats.js.api import StreamConfig, ConsumerConfig, AckPolicy, DeliverPolicy


async def step(name, coro):
    """Awaits `coro`; its result, or None after printing the error's type."""
    try:
        return await coro
    except Exception as ex:
        print(name, "error:", type(ex).__name__, getattr(ex, "description", "") or "")
        return None


async def core(url):
    nc = await nats.connect(url, name="probe-py")
    print("max payload", nc.max_payload, "headers", nc._server_info.get("headers"))
    sub = await nc.subscribe("py.*")
    qa = await nc.subscribe("py.q", queue="workers")
    qb = await nc.subscribe("py.q", queue="workers")
    await nc.publish("py.a", b"plain")
    await nc.publish("py.h", b"with headers", headers={"X-One": "1", "X-Two": "two"})
    for i in range(10):
        await nc.publish("py.q", str(i).encode())
    await nc.flush()
    m = await sub.next_msg(timeout=2)
    print("plain", m.subject, m.data, m.headers)
    m = await sub.next_msg(timeout=2)
    print("headers", m.subject, m.data, sorted(m.headers.items()))
    print("queue group got", qa.pending_msgs + qb.pending_msgs)

    async def echo(msg):
        await msg.respond(b"re: " + msg.data)

    await nc.subscribe("py.svc", cb=echo)
    r = await step("request", nc.request("py.svc", b"ping", timeout=2))
    if r:
        print("request", r.data)
    await step("no responders", nc.request("nobody.here", b"", timeout=2))
    auto = await nc.subscribe("py.auto", max_msgs=2)
    for i in range(4):
        await nc.publish("py.auto", str(i).encode())
    await nc.flush()
    got = [(await auto.next_msg(timeout=2)).data for _ in range(2)]
    print("auto unsubscribe", got)
    await step("auto after max", auto.next_msg(timeout=0.2))

    # Drain: messages published before drain still reach the handler.
    dc = await nats.connect(url)
    seen = []

    async def slow(msg):
        await asyncio.sleep(0.001)
        seen.append(msg.data)

    await dc.subscribe("py.drain", cb=slow)
    await dc.flush()
    for i in range(30):
        await nc.publish("py.drain", b"d")
    await nc.flush()
    await asyncio.sleep(0.1)
    await dc.drain()
    print("drained", len(seen), "closed", dc.is_closed)
    await nc.close()


async def js(url):
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.>"])
    for i in range(10):
        await js.publish(f"orders.{i%3}", f"m{i}".encode(), headers={"Nats-Msg-Id": f"id{i}"})
    ack = await js.publish("orders.0", b"dup", headers={"Nats-Msg-Id": "id0"})
    print("dup", ack.duplicate, ack.seq)
    await step("expected last seq", js.publish("orders.0", b"x", headers={"Nats-Expected-Last-Sequence": "3"}))
    await step("no stream", js.publish("nostream.here", b"x"))
    info = await js.stream_info("ORDERS")
    print("msgs", info.state.messages, "bytes", info.state.bytes, "deleted", info.state.num_deleted)
    # Pull consumer, acked synchronously so the state is settled when asked.
    psub = await js.pull_subscribe("orders.>", "worker")
    msgs = await psub.fetch(5, timeout=2)
    for m in msgs:
        await m.ack_sync()
    print("fetched", [m.data.decode() for m in msgs], msgs[0].metadata.sequence.stream, msgs[0].metadata.num_pending)
    msgs = await psub.fetch(2, timeout=2)
    await msgs[0].nak()
    await msgs[1].term()
    await asyncio.sleep(0.2)
    again = await psub.fetch(1, timeout=2)
    print("redelivered", again[0].data, again[0].metadata.num_delivered)
    await again[0].ack_sync()
    ci = await js.consumer_info("ORDERS", "worker")
    print("consumer", ci.name, ci.config.ack_policy, ci.config.deliver_policy, ci.config.max_deliver,
          ci.config.ack_wait, ci.config.filter_subject)
    print("ack floor", ci.ack_floor.stream_seq, ci.ack_floor.consumer_seq, "delivered", ci.delivered.stream_seq,
          ci.delivered.consumer_seq, "ack pending", ci.num_ack_pending, "waiting", ci.num_waiting)
    # Push ordered consumer.
    got = []
    sub = await js.subscribe("orders.1", ordered_consumer=True)
    for _ in range(3):
        m = await sub.next_msg(timeout=2)
        got.append(m.data.decode())
    print("ordered", got)
    # A durable push consumer with explicit config.
    await js.add_consumer("ORDERS", ConsumerConfig(durable_name="pusher", deliver_subject="push.here",
                                                    ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.LAST))
    ci = await js.consumer_info("ORDERS", "pusher")
    print("push consumer", ci.config.deliver_subject, ci.config.deliver_policy, ci.num_pending, ci.push_bound)
    await step("consumer missing", js.consumer_info("ORDERS", "nope"))
    infos = await js.consumers_info("ORDERS")
    print("consumers", len(infos), sorted(c.name for c in infos if c.config.durable_name))
    m = await js.get_msg("ORDERS", subject="orders.2", direct=False)
    print("last orders.2", m.data, m.seq)
    await step("get missing", js.get_msg("ORDERS", 999))
    await js.delete_msg("ORDERS", 1)
    await js.purge_stream("ORDERS", subject="orders.0")
    info = await js.stream_info("ORDERS")
    print("after purge", info.state.messages, info.state.first_seq, info.state.num_deleted)
    await js.purge_stream("ORDERS", keep=2)
    info = await js.stream_info("ORDERS")
    print("after keep", info.state.messages, info.state.first_seq)
    await step("stream missing", js.stream_info("NOPE"))
    info = await js.update_stream(name="ORDERS", subjects=["orders.>", "more.*"], allow_direct=True, max_msgs=100)
    print("updated", info.config.subjects, info.config.allow_direct, info.config.max_msgs)
    print("by subject", await js.find_stream_name_by_subject("more.x"))
    await step("by subject missing", js.find_stream_name_by_subject("none.x"))
    await js.publish("more.a", b"direct", headers={"H": "v"})
    m = await js.get_last_msg("ORDERS", "more.a", direct=True)
    print("direct last", m.subject, m.data, m.seq, m.headers.get("H") if m.headers else None)
    m = await js.get_msg("ORDERS", seq=m.seq, direct=True)
    print("direct get", m.subject, m.data)
    await step("direct get missing", js.get_msg("ORDERS", seq=9999, direct=True))
    info = await js.stream_info("ORDERS", subjects_filter="more.*")
    print("subjects", info.state.subjects)
    # A durable push consumer acked by hand, with progress reports.
    psh = await js.subscribe("more.*", durable="handy", manual_ack=True)
    m = await psh.next_msg(timeout=2)
    await m.in_progress()
    await m.ack_sync()
    ci = await js.consumer_info("ORDERS", "handy")
    print("handy", ci.delivered.stream_seq, ci.ack_floor.stream_seq, ci.num_ack_pending, ci.config.deliver_policy)
    await psh.unsubscribe()
    await js.delete_stream("ORDERS")
    await nc.close()


async def kv(url):
    nc = await nats.connect(url)
    js = nc.jetstream()
    kv = await js.create_key_value(bucket="cfg", history=5, ttl=60)
    r1 = await kv.put("a", b"1")
    r2 = await kv.put("a", b"2")
    e = await kv.get("a")
    print("kv get", e.value, e.revision)
    await kv.update("a", b"3", last=r2)
    await step("stale update", kv.update("a", b"x", last=r1))
    await step("create existing", kv.create("a", b"x"))
    await step("get missing", kv.get("zzz"))
    await kv.put("b", b"bee")
    await kv.delete("b")
    await step("get deleted", kv.get("b"))
    print("keys", await kv.keys())
    hist = await kv.history("a")
    print("history", [(h.value, h.revision) for h in hist])
    w = await kv.watchall()
    seen = []
    async for entry in w:
        if entry is None:
            break
        seen.append((entry.key, entry.value, entry.operation, entry.revision))
    print("watch initial", seen)
    await kv.put("c", b"see")
    await kv.delete("a")
    await kv.purge("c")
    for _ in range(3):
        u = await w.updates(timeout=2)
        print("watch update", u.key, u.value, u.operation, u.revision)
    await w.stop()
    w = await kv.watch("c")
    u = await w.updates(timeout=2)
    print("watch one key", u.key if u else None, u.operation if u else None)
    await w.stop()
    st = await kv.status()
    print("kv status", st.bucket, st.values, st.history, st.ttl)
    await kv.purge_deletes(olderthan=-1)
    st = await kv.status()
    print("after purge deletes", st.values)
    await js.delete_key_value("cfg")
    await step("bucket gone", js.key_value("cfg"))
    await nc.close()


async def objects(url):
    nc = await nats.connect(url)
    js = nc.jetstream()
    obs = await js.create_object_store("files")
    data = bytes(range(256)) * 4000
    info = await obs.put("blob", data)
    print("obj put", info.size, info.chunks, info.digest)
    res = await obs.get("blob")
    print("obj get ok", res.data == data)
    await obs.put("small", b"tiny")
    lst = await obs.list()
    print("obj list", sorted(o.name for o in lst))
    i = await obs.get_info("small")
    print("obj info", i.name, i.size, i.chunks)
    await obs.delete("blob")
    await step("get after delete", obs.get("blob"))
    w = await obs.watch()
    seen = []
    while True:
        e = await w.updates(timeout=2)
        if e is None:
            break
        seen.append((e.name, e.deleted))
    print("obj watch", sorted(seen, key=str))
    # Not a new name: nats-py refuses any (it looks the old one up as the new one).
    await obs.update_meta("small", meta=nats.js.api.ObjectMeta(name="small", description="tiny"))
    i = await obs.get_info("small")
    print("obj meta", i.description, i.size)
    await obs.seal()
    st = await obs.status()
    print("obj status", st.bucket, st.sealed)
    await step("put after seal", obs.put("late", b"x"))
    print("streams", sorted([s.config.name for s in await js.streams_info()]))
    print("account", (await js.account_info()).streams)
    await nc.close()


async def main(url):
    await core(url)
    await js(url)
    await kv(url)
    await objects(url)


asyncio.run(main(sys.argv[1]))
