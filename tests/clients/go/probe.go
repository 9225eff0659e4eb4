// Probe: what a nats.go (the Go client) user does, printed as deterministic lines (no
// times, ids or inboxes) so that the output against rnats can be diffed with the output
// against the reference nats-server. tests/tests/clients.rs builds and runs it.
//
// Usage: probe URL USERPASS_URL TOKEN_URL
//
//	URL           a server started with -js -sd DIR
//	USERPASS_URL  a server started with --user probe --pass secret
//	TOKEN_URL     a server started with --auth s3cr3t
//
// Every step prints its result or its error and goes on, so one difference does not hide
// the next ones.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

const wait = 5 * time.Second

func say(format string, args ...interface{}) {
	fmt.Printf(format+"\n", args...)
}

// res prints what a step returned: its value, or its error.
func res(step string, v interface{}, err error) {
	if err != nil {
		say("%s: error: %v", step, err)
	} else {
		say("%s: %v", step, v)
	}
}

func check(step string, err error) {
	if err != nil {
		say("%s: error: %v", step, err)
	} else {
		say("%s: ok", step)
	}
}

func next(step string, sub *nats.Subscription) *nats.Msg {
	m, err := sub.NextMsg(wait)
	if err != nil {
		say("%s: error: %v", step, err)
		return nil
	}
	say("%s: %s %q", step, m.Subject, m.Data)
	return m
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: probe URL USERPASS_URL TOKEN_URL")
		os.Exit(2)
	}
	url, upURL, tokURL := os.Args[1], os.Args[2], os.Args[3]
	auth(upURL, tokURL)
	core(url)
	js(url)
	limits(url)
	kv(url)
	objects(url)
}

func auth(upURL, tokURL string) {
	nc, err := nats.Connect(upURL, nats.UserInfo("probe", "secret"), nats.Name("probe"))
	if err == nil {
		say("user/pass: connected, url matches %v", nc.ConnectedUrl() == upURL)
		// This server runs without JetStream.
		js, _ := nc.JetStream()
		_, err = js.AccountInfo()
		res("account info without jetstream", nil, err)
		_, err = js.AddStream(&nats.StreamConfig{Name: "NOJS"})
		res("add stream without jetstream", nil, err)
		_, err = js.Publish("nojs", nil)
		res("publish without jetstream", nil, err)
		nc.Close()
	} else {
		res("user/pass", nil, err)
	}
	_, err = nats.Connect(upURL, nats.UserInfo("probe", "wrong"), nats.NoReconnect())
	res("bad pass", nil, err)
	_, err = nats.Connect(upURL, nats.NoReconnect())
	res("no credentials", nil, err)
	nc, err = nats.Connect(tokURL, nats.Token("s3cr3t"))
	if err == nil {
		say("token: connected")
		nc.Close()
	} else {
		res("token", nil, err)
	}
	_, err = nats.Connect(tokURL, nats.Token("nope"), nats.NoReconnect())
	res("bad token", nil, err)
}

func core(url string) {
	nc, err := nats.Connect(url, nats.Name("probe-core"))
	if err != nil {
		res("connect", nil, err)
		os.Exit(1)
	}
	defer nc.Close()
	say("max payload: %d", nc.MaxPayload())
	say("headers supported: %v", nc.HeadersSupported())
	say("connected url matches: %v", nc.ConnectedUrl() == url)
	say("server version set: %v", nc.ConnectedServerVersion() != "")
	_, err = nc.RTT()
	check("rtt", err)

	// Plain, wildcard and queue subscriptions.
	exact, _ := nc.SubscribeSync("core.a")
	star, _ := nc.SubscribeSync("core.*")
	gt, _ := nc.SubscribeSync("core.>")
	q1, _ := nc.QueueSubscribeSync("core.q", "workers")
	q2, _ := nc.QueueSubscribeSync("core.q", "workers")
	nc.Publish("core.a", []byte("to a"))
	nc.Publish("core.b.c", []byte("deep"))
	for i := 0; i < 10; i++ {
		nc.Publish("core.q", []byte("queued"))
	}
	check("flush", nc.Flush())
	next("exact", exact)
	next("star", star)
	next("gt", gt)
	next("gt", gt)
	n1, _, _ := q1.Pending()
	n2, _, _ := q2.Pending()
	say("queue group got %d in all", n1+n2)
	// core.q went to star as well, ten times.
	for i := 0; i < 10; i++ {
		if _, err := star.NextMsg(wait); err != nil {
			res("star queued", nil, err)
		}
	}
	_, err = star.NextMsg(100 * time.Millisecond)
	res("star afterwards", nil, err)

	// Auto-unsubscribe after three messages.
	auto, _ := nc.SubscribeSync("core.auto")
	check("auto unsubscribe", auto.AutoUnsubscribe(3))
	for i := 0; i < 5; i++ {
		nc.Publish("core.auto", []byte(fmt.Sprint(i)))
	}
	nc.Flush()
	for i := 0; i < 3; i++ {
		next("auto", auto)
	}
	_, err = auto.NextMsg(100 * time.Millisecond)
	res("auto after max", nil, err)

	// Headers.
	hs, _ := nc.SubscribeSync("core.hdr")
	m := nats.NewMsg("core.hdr")
	m.Header.Set("X-One", "1")
	m.Header.Add("X-Two", "a")
	m.Header.Add("X-Two", "b")
	m.Data = []byte("with headers")
	check("publish msg", nc.PublishMsg(m))
	if got := next("headers", hs); got != nil {
		say("header values: %v %v", got.Header.Get("X-One"), got.Header.Values("X-Two"))
	}
	empty := nats.NewMsg("core.hdr")
	empty.Header.Set("Only", "header")
	nc.PublishMsg(empty)
	if got := next("header only", hs); got != nil {
		say("header only: %q len %d", got.Header.Get("Only"), len(got.Data))
	}

	// Request/reply, with and without headers, and no responders.
	rs, _ := nc.Subscribe("core.svc", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Header.Set("Echo", m.Header.Get("Ask"))
		r.Data = append([]byte("re: "), m.Data...)
		m.RespondMsg(r)
	})
	nc.Flush()
	rep, err := nc.Request("core.svc", []byte("ping"), wait)
	if err == nil {
		say("request: %q", rep.Data)
	} else {
		res("request", nil, err)
	}
	rq := nats.NewMsg("core.svc")
	rq.Header.Set("Ask", "hdr")
	rq.Data = []byte("with headers")
	rep, err = nc.RequestMsg(rq, wait)
	if err == nil {
		say("request msg: %q echo %q", rep.Data, rep.Header.Get("Echo"))
	} else {
		res("request msg", nil, err)
	}
	_, err = nc.Request("nobody.here", nil, wait)
	say("no responders: %v (%v)", errors.Is(err, nats.ErrNoResponders), err)
	rs.Unsubscribe()
	// A queue-group responder, many requests.
	for i := 0; i < 2; i++ {
		nc.QueueSubscribe("core.qsvc", "svc", func(m *nats.Msg) { m.Respond(m.Data) })
	}
	nc.Flush()
	ok := 0
	for i := 0; i < 20; i++ {
		if r, err := nc.Request("core.qsvc", []byte(fmt.Sprint(i)), wait); err == nil && string(r.Data) == fmt.Sprint(i) {
			ok++
		}
	}
	say("queue requests answered: %d", ok)

	// The old request style (an inbox per request) and a connection that hears no echo.
	oc, err := nats.Connect(url, nats.UseOldRequestStyle(), nats.NoEcho())
	if err == nil {
		oc.Subscribe("old.svc", func(m *nats.Msg) { m.Respond([]byte("old")) })
		echo, _ := oc.SubscribeSync("echo.x")
		oc.Flush()
		rep, err := nc.Request("old.svc", nil, wait)
		if err == nil {
			say("old style responder: %q", rep.Data)
		}
		rep, err = oc.Request("core.svc2", nil, time.Second)
		res("old style no responders", rep != nil, err)
		oc.Publish("echo.x", []byte("mine"))
		nc.Publish("echo.x", []byte("theirs"))
		nc.Flush()
		oc.Flush()
		next("no echo", echo)
		_, err = echo.NextMsg(100 * time.Millisecond)
		res("no echo after", nil, err)
		oc.Close()
	}

	// Stats of a connection of its own, so nothing else counts.
	sc, err := nats.Connect(url)
	if err == nil {
		s, _ := sc.SubscribeSync("stats.x")
		sc.Publish("stats.x", []byte("12345"))
		sc.Publish("stats.x", []byte("678"))
		sc.Flush()
		next("stats msg", s)
		next("stats msg", s)
		st := sc.Stats()
		say("stats: in %d/%d out %d/%d reconnects %d", st.InMsgs, st.InBytes, st.OutMsgs, st.OutBytes, st.Reconnects)
		sc.Close()
	}

	// Drain: what was published before drain is still delivered.
	dc, err := nats.Connect(url)
	if err == nil {
		var mu sync.Mutex
		got := 0
		closed := make(chan struct{})
		dc.SetClosedHandler(func(*nats.Conn) { close(closed) })
		dc.Subscribe("drain.x", func(*nats.Msg) {
			time.Sleep(time.Millisecond)
			mu.Lock()
			got++
			mu.Unlock()
		})
		dc.Flush()
		for i := 0; i < 50; i++ {
			nc.Publish("drain.x", []byte("d"))
		}
		nc.Flush()
		time.Sleep(100 * time.Millisecond)
		check("drain", dc.Drain())
		select {
		case <-closed:
		case <-time.After(wait):
			say("drain: not closed")
		}
		mu.Lock()
		say("drained messages: %d, closed %v", got, dc.IsClosed())
		mu.Unlock()
	}

	// A payload over max_payload is refused by the client.
	err = nc.Publish("core.big", make([]byte, nc.MaxPayload()+1))
	res("over max payload", nil, err)
	say("still connected: %v", nc.IsConnected())
}

func streamState(js nats.JetStreamContext, name string) {
	si, err := js.StreamInfo(name)
	if err != nil {
		res("stream info "+name, nil, err)
		return
	}
	s := si.State
	say("stream %s: msgs %d bytes %d first %d last %d consumers %d deleted %d subjects %d",
		name, s.Msgs, s.Bytes, s.FirstSeq, s.LastSeq, s.Consumers, s.NumDeleted, s.NumSubjects)
}

func ack(step string, a *nats.PubAck, err error) {
	if err != nil {
		say("%s: error: %v", step, err)
		return
	}
	say("%s: stream %s seq %d dup %v", step, a.Stream, a.Sequence, a.Duplicate)
}

// metaEach prints the metadata of the next n messages of sub (acking each, synchronously,
// when ack is set), or the error that ends them early.
func metaEach(step string, sub *nats.Subscription, n int, ack bool) {
	for i := 0; i < n; i++ {
		m, err := sub.NextMsg(wait)
		if err != nil {
			res(step, nil, err)
			return
		}
		meta(step, m)
		if ack {
			m.AckSync()
		}
	}
}

func meta(step string, m *nats.Msg) {
	if m == nil {
		return
	}
	md, err := m.Metadata()
	if err != nil {
		res(step+" metadata", nil, err)
		return
	}
	say("%s: %s %q stream seq %d consumer seq %d delivered %d pending %d", step, m.Subject, m.Data,
		md.Sequence.Stream, md.Sequence.Consumer, md.NumDelivered, md.NumPending)
}

func consumerState(js nats.JetStreamContext, stream, name string) {
	ci, err := js.ConsumerInfo(stream, name)
	if err != nil {
		res("consumer info "+name, nil, err)
		return
	}
	// Not NumPending: after a redelivery the reference's cached count is off.
	say("consumer %s: delivered %d/%d ack floor %d/%d ack pending %d redelivered %d waiting %d",
		name, ci.Delivered.Consumer, ci.Delivered.Stream, ci.AckFloor.Consumer, ci.AckFloor.Stream,
		ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting)
}

func js(url string) {
	nc, err := nats.Connect(url)
	if err != nil {
		res("connect", nil, err)
		os.Exit(1)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		res("jetstream", nil, err)
		return
	}
	si, err := js.AddStream(&nats.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Duplicates: time.Minute})
	if err == nil {
		c := si.Config
		say("add stream: %s %v storage %v retention %v replicas %d max msgs %d discard %v dups %v",
			c.Name, c.Subjects, c.Storage, c.Retention, c.Replicas, c.MaxMsgs, c.Discard, c.Duplicates)
	} else {
		res("add stream", nil, err)
	}
	_, err = js.AddStream(&nats.StreamConfig{Name: "ORDERS", Subjects: []string{"other"}})
	res("add stream again, different", nil, err)
	_, err = js.AddStream(&nats.StreamConfig{Name: "CLASH", Subjects: []string{"orders.x"}})
	res("overlapping subjects", nil, err)
	_, err = js.AddStream(&nats.StreamConfig{Name: "bad.name"})
	res("bad name", nil, err)
	_, err = js.StreamInfo("MISSING")
	res("missing stream", nil, err)
	// Stream configurations the server refuses.
	for _, bad := range []struct {
		what string
		cfg  nats.StreamConfig
	}{
		{"max age under 100ms", nats.StreamConfig{Name: "B1", MaxAge: 50 * time.Millisecond}},
		{"duplicates under 100ms", nats.StreamConfig{Name: "B2", Duplicates: 50 * time.Millisecond}},
		{"duplicates over max age", nats.StreamConfig{Name: "B3", MaxAge: time.Second, Duplicates: time.Minute}},
		{"replicas", nats.StreamConfig{Name: "B4", Replicas: 3}},
		{"too many replicas", nats.StreamConfig{Name: "B5", Replicas: 6}},
		{"discard new per subject without discard new", nats.StreamConfig{Name: "B6", DiscardNewPerSubject: true, MaxMsgsPerSubject: 1}},
		{"overlapping own subjects", nats.StreamConfig{Name: "B7", Subjects: []string{"b7.*", "b7.x"}}},
		{"invalid subject", nats.StreamConfig{Name: "B8", Subjects: []string{"b8..x"}}},
		{"api subjects", nats.StreamConfig{Name: "B9", Subjects: []string{"$JS.API.>"}}},
		{"mirror with subjects", nats.StreamConfig{Name: "B10", Subjects: []string{"b10"}, Mirror: &nats.StreamSource{Name: "ORDERS"}}},
		{"republish cycle", nats.StreamConfig{Name: "B11", Subjects: []string{"b11.>"}, RePublish: &nats.RePublish{Source: ">", Destination: "b11.x"}}},
		{"max msg size over max payload", nats.StreamConfig{Name: "B12", MaxMsgSize: 2 << 20}},
	} {
		cfg := bad.cfg
		_, err := js.AddStream(&cfg)
		res(bad.what, nil, err)
		js.DeleteStream(cfg.Name)
	}

	for i := 0; i < 6; i++ {
		a, err := js.Publish(fmt.Sprintf("orders.%d", i%3), []byte(fmt.Sprintf("o%d", i)), nats.MsgId(fmt.Sprintf("id%d", i)))
		ack(fmt.Sprintf("publish %d", i), a, err)
	}
	a, err := js.Publish("orders.0", []byte("again"), nats.MsgId("id0"))
	ack("duplicate", a, err)
	a, err = js.Publish("orders.1", []byte("x"), nats.ExpectLastSequence(6))
	ack("expected last seq ok", a, err)
	a, err = js.Publish("orders.1", []byte("x"), nats.ExpectLastSequence(3))
	ack("expected last seq wrong", a, err)
	a, err = js.Publish("orders.1", []byte("y"), nats.ExpectLastSequencePerSubject(7))
	ack("expected last subject seq ok", a, err)
	a, err = js.Publish("orders.1", []byte("y"), nats.ExpectLastSequencePerSubject(1))
	ack("expected last subject seq wrong", a, err)
	a, err = js.Publish("orders.2", []byte("z"), nats.ExpectStream("ORDERS"))
	ack("expected stream ok", a, err)
	a, err = js.Publish("orders.2", []byte("z"), nats.ExpectStream("NOPE"))
	ack("expected stream wrong", a, err)
	a, err = js.Publish("orders.2", []byte("w"), nats.MsgId("last-id"))
	ack("with id", a, err)
	a, err = js.Publish("orders.2", []byte("w2"), nats.ExpectLastMsgId("last-id"))
	ack("expected last id ok", a, err)
	a, err = js.Publish("orders.2", []byte("w3"), nats.ExpectLastMsgId("other"))
	ack("expected last id wrong", a, err)
	_, err = js.Publish("nostream.here", []byte("x"))
	res("publish without stream", nil, err)

	// Async publishing.
	var futs []nats.PubAckFuture
	for i := 0; i < 20; i++ {
		f, err := js.PublishAsync("orders.async", []byte(fmt.Sprint(i)))
		if err != nil {
			res("publish async", nil, err)
			break
		}
		futs = append(futs, f)
	}
	select {
	case <-js.PublishAsyncComplete():
		say("publish async complete, pending %d", js.PublishAsyncPending())
	case <-time.After(wait):
		say("publish async: timed out")
	}
	var seqs []uint64
	for _, f := range futs {
		select {
		case a := <-f.Ok():
			seqs = append(seqs, a.Sequence)
		case err := <-f.Err():
			res("async ack", nil, err)
		}
	}
	say("async acks: %v", seqs)
	streamState(js, "ORDERS")

	// Update the stream.
	si, err = js.UpdateStream(&nats.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>", "extra"}, MaxMsgsPerSubject: 50, Duplicates: time.Minute})
	if err == nil {
		say("update stream: %v per subject %d", si.Config.Subjects, si.Config.MaxMsgsPerSubject)
		say("stream config: %+v", si.Config)
	} else {
		res("update stream", nil, err)
	}
	_, err = js.UpdateStream(&nats.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Storage: nats.MemoryStorage})
	res("update storage", nil, err)
	_, err = js.UpdateStream(&nats.StreamConfig{Name: "MISSING"})
	res("update missing", nil, err)
	js.AddStream(&nats.StreamConfig{Name: "EVENTS", Subjects: []string{"events.*"}, Storage: nats.MemoryStorage})
	var names []string
	for n := range js.StreamNames() {
		names = append(names, n)
	}
	sort.Strings(names)
	say("stream names: %v", names)
	names = nil
	for s := range js.Streams() {
		names = append(names, fmt.Sprintf("%s:%d", s.Config.Name, s.State.Msgs))
	}
	sort.Strings(names)
	say("streams: %v", names)
	name, err := js.StreamNameBySubject("events.x")
	res("stream by subject", name, err)

	// Direct gets.
	if m, err := js.GetMsg("ORDERS", 2); err == nil {
		say("get msg: %s %q seq %d", m.Subject, m.Data, m.Sequence)
	} else {
		res("get msg", nil, err)
	}
	if m, err := js.GetLastMsg("ORDERS", "orders.1"); err == nil {
		say("get last: %s %q seq %d", m.Subject, m.Data, m.Sequence)
	} else {
		res("get last", nil, err)
	}
	_, err = js.GetMsg("ORDERS", 999)
	res("get missing", nil, err)
	_, err = js.GetLastMsg("ORDERS", "orders.none")
	res("get last missing", nil, err)
	check("delete msg", js.DeleteMsg("ORDERS", 2))
	res("delete msg again", nil, js.DeleteMsg("ORDERS", 2))
	_, err = js.GetMsg("ORDERS", 2)
	res("get deleted", nil, err)
	streamState(js, "ORDERS")

	// Pull consumer.
	psub, err := js.PullSubscribe("orders.>", "puller", nats.AckExplicit())
	if err == nil {
		msgs, err := psub.Fetch(4, nats.MaxWait(wait))
		res("fetch count", len(msgs), err)
		for i, m := range msgs {
			meta("fetched", m)
			switch i {
			case 0:
				check("ack sync", m.AckSync())
			case 1:
				check("nak", m.Nak())
			case 2:
				check("in progress", m.InProgress())
				check("ack", m.Ack())
			case 3:
				check("term", m.Term())
			}
		}
		// The reference handles acks apart from pull requests: let them land first.
		time.Sleep(200 * time.Millisecond)
		msgs, err = psub.Fetch(2, nats.MaxWait(wait))
		res("fetch again", len(msgs), err)
		for _, m := range msgs {
			meta("fetched", m)
			m.AckSync()
		}
		consumerState(js, "ORDERS", "puller")
		// Everything left, then an empty fetch.
		left := 0
		for {
			msgs, err := psub.Fetch(100, nats.MaxWait(500*time.Millisecond))
			left += len(msgs)
			for _, m := range msgs {
				m.Ack()
			}
			if err != nil || len(msgs) == 0 {
				say("fetch until empty: %d, %v", left, err)
				break
			}
		}
		psub.Unsubscribe()
	} else {
		res("pull subscribe", nil, err)
	}

	// Push consumers.
	dsub, err := js.SubscribeSync("orders.0", nats.Durable("pusher"), nats.AckExplicit(), nats.DeliverAll())
	if err == nil {
		metaEach("durable push", dsub, 2, true)
		ci, err := dsub.ConsumerInfo()
		if err == nil {
			say("durable info: %s filter %s ack %v deliver %v", ci.Name, ci.Config.FilterSubject, ci.Config.AckPolicy, ci.Config.DeliverPolicy)
		} else {
			res("durable info", nil, err)
		}
		dsub.Unsubscribe()
	} else {
		res("durable push", nil, err)
	}
	esub, err := js.SubscribeSync("orders.2", nats.DeliverLast())
	if err == nil {
		meta("ephemeral deliver last", next("ephemeral", esub))
		esub.Unsubscribe()
	} else {
		res("ephemeral", nil, err)
	}
	osub, err := js.SubscribeSync("orders.1", nats.OrderedConsumer())
	if err == nil {
		metaEach("ordered", osub, 4, false)
		osub.Unsubscribe()
	} else {
		res("ordered", nil, err)
	}
	// Async push with callback and a queue group.
	var mu sync.Mutex
	got := map[string]int{}
	done := make(chan struct{}, 64)
	handler := func(who string) nats.MsgHandler {
		return func(m *nats.Msg) {
			mu.Lock()
			got[string(m.Data)]++
			mu.Unlock()
			m.Ack()
			done <- struct{}{}
		}
	}
	for i := 0; i < 6; i++ {
		js.Publish("events.q", []byte(fmt.Sprint(i)))
	}
	qa, err1 := js.QueueSubscribe("events.q", "grp", handler("a"), nats.Durable("grp"), nats.ManualAck())
	qb, err2 := js.QueueSubscribe("events.q", "grp", handler("b"), nats.Durable("grp"), nats.ManualAck())
	res("queue subscribe", err2 == nil, err1)
	for i := 0; i < 6; i++ {
		select {
		case <-done:
		case <-time.After(wait):
			say("queue subscribe: timed out")
			i = 6
		}
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	say("queue delivered: %v", got)
	mu.Unlock()
	if qa != nil {
		qa.Unsubscribe()
	}
	if qb != nil {
		qb.Unsubscribe()
	}

	// Max deliver: naked until it is given up.
	md, err := js.PullSubscribe("orders.0", "maxdeliver", nats.MaxDeliver(2))
	if err == nil {
		for i := 0; i < 3; i++ {
			msgs, err := md.Fetch(1, nats.MaxWait(time.Second))
			if err != nil {
				res("max deliver fetch", nil, err)
				continue
			}
			meta("max deliver", msgs[0])
			msgs[0].Nak()
			time.Sleep(100 * time.Millisecond)
		}
		consumerState(js, "ORDERS", "maxdeliver")
		js.DeleteConsumer("ORDERS", "maxdeliver")
	}
	mw, err := js.PullSubscribe("orders.none", "maxwaiting", nats.PullMaxWaiting(1))
	if err == nil {
		ci, err := js.ConsumerInfo("ORDERS", "maxwaiting")
		if err == nil {
			say("max waiting: %d", ci.Config.MaxWaiting)
		}
		_, err = mw.Fetch(1, nats.MaxWait(300*time.Millisecond))
		res("fetch from empty", nil, err)
		js.DeleteConsumer("ORDERS", "maxwaiting")
	}
	f, err := js.PublishAsync("nostream.async", []byte("x"))
	if err == nil {
		select {
		case <-f.Ok():
			say("async to no stream: acked")
		case err := <-f.Err():
			res("async to no stream", nil, err)
		case <-time.After(wait):
			say("async to no stream: nothing")
		}
	}

	// Consumers created explicitly, listed, and deleted.
	ci, err := js.AddConsumer("ORDERS", &nats.ConsumerConfig{Durable: "explicit", AckPolicy: nats.AckExplicitPolicy, FilterSubject: "orders.2", MaxDeliver: 3, AckWait: 30 * time.Second})
	if err == nil {
		say("add consumer: %s pending %d max deliver %d ack wait %v", ci.Name, ci.NumPending, ci.Config.MaxDeliver, ci.Config.AckWait)
		say("consumer config: %+v", ci.Config)
	} else {
		res("add consumer", nil, err)
	}
	_, err = js.AddConsumer("ORDERS", &nats.ConsumerConfig{Durable: "explicit", AckPolicy: nats.AckNonePolicy})
	res("add consumer changed", nil, err)
	_, err = js.AddConsumer("ORDERS", &nats.ConsumerConfig{Durable: "badfilter", FilterSubject: "nomatch.x", AckPolicy: nats.AckExplicitPolicy})
	res("consumer filter outside stream", nil, err)
	_, err = js.ConsumerInfo("ORDERS", "missing")
	res("missing consumer", nil, err)
	names = nil
	for c := range js.Consumers("ORDERS") {
		names = append(names, c.Name)
	}
	sort.Strings(names)
	say("consumers: %v", names)
	names = nil
	for c := range js.ConsumerNames("ORDERS") {
		names = append(names, c)
	}
	sort.Strings(names)
	say("consumer names: %v", names)
	// Consumer configurations the server refuses.
	for _, bad := range []struct {
		what string
		cfg  nats.ConsumerConfig
	}{
		{"backoff longer than max deliver", nats.ConsumerConfig{Durable: "b1", AckPolicy: nats.AckExplicitPolicy, MaxDeliver: 2, BackOff: []time.Duration{time.Second, 2 * time.Second}}},
		{"start sequence without policy", nats.ConsumerConfig{Durable: "b2", AckPolicy: nats.AckExplicitPolicy, OptStartSeq: 5}},
		{"by start sequence without one", nats.ConsumerConfig{Durable: "b3", AckPolicy: nats.AckExplicitPolicy, DeliverPolicy: nats.DeliverByStartSequencePolicy}},
		{"rate limit on pull", nats.ConsumerConfig{Durable: "b4", AckPolicy: nats.AckExplicitPolicy, RateLimit: 1000}},
		{"heartbeat on pull", nats.ConsumerConfig{Durable: "b5", AckPolicy: nats.AckExplicitPolicy, Heartbeat: time.Second}},
		{"flow control without heartbeat", nats.ConsumerConfig{Durable: "b6", DeliverSubject: "fc.here", AckPolicy: nats.AckExplicitPolicy, FlowControl: true}},
		{"max waiting on push", nats.ConsumerConfig{Durable: "b7", DeliverSubject: "mw.here", AckPolicy: nats.AckExplicitPolicy, MaxWaiting: 5}},
		{"name with a dot", nats.ConsumerConfig{Durable: "a.b", AckPolicy: nats.AckExplicitPolicy}},
		{"ack none with max ack pending", nats.ConsumerConfig{Durable: "b8", DeliverSubject: "an.here", AckPolicy: nats.AckNonePolicy, MaxAckPending: 10}},
		{"deliver group without subject", nats.ConsumerConfig{Durable: "b9", DeliverGroup: "g", AckPolicy: nats.AckExplicitPolicy}},
	} {
		cfg := bad.cfg
		_, err := js.AddConsumer("ORDERS", &cfg)
		res(bad.what, nil, err)
	}
	lps, err := js.SubscribeSync("orders.*", nats.DeliverLastPerSubject())
	if err == nil {
		var got []string
		for i := 0; i < 3; i++ {
			if m, err := lps.NextMsg(wait); err == nil {
				got = append(got, string(m.Data))
			}
		}
		sort.Strings(got)
		say("last per subject: %v", got)
		lps.Unsubscribe()
	} else {
		res("last per subject", nil, err)
	}
	eph, err := js.PullSubscribe("orders.1", "", nats.InactiveThreshold(time.Minute))
	if err == nil {
		msgs, err := eph.Fetch(1, nats.MaxWait(wait))
		res("ephemeral pull", len(msgs), err)
		if ci, err := eph.ConsumerInfo(); err == nil {
			say("ephemeral pull: durable %q inactive %v ack %v", ci.Config.Durable, ci.Config.InactiveThreshold, ci.Config.AckPolicy)
		}
		eph.Unsubscribe()
	} else {
		res("ephemeral pull", nil, err)
	}
	names = nil
	for n := range js.StreamNames(nats.StreamListFilter("orders.1")) {
		names = append(names, n)
	}
	say("streams with orders.1: %v", names)
	check("delete consumer", js.DeleteConsumer("ORDERS", "explicit"))
	res("delete consumer again", nil, js.DeleteConsumer("ORDERS", "explicit"))

	// Purges.
	check("purge subject", js.PurgeStream("ORDERS", &nats.StreamPurgeRequest{Subject: "orders.async"}))
	streamState(js, "ORDERS")
	check("purge keep", js.PurgeStream("ORDERS", &nats.StreamPurgeRequest{Keep: 3}))
	streamState(js, "ORDERS")
	check("purge all", js.PurgeStream("ORDERS"))
	streamState(js, "ORDERS")
	check("purge beyond the end", js.PurgeStream("ORDERS", &nats.StreamPurgeRequest{Sequence: 100}))
	streamState(js, "ORDERS")
	a, err = js.Publish("orders.0", []byte("after"))
	ack("publish after purge", a, err)
	check("purge keep 0", js.PurgeStream("ORDERS", &nats.StreamPurgeRequest{Subject: "orders.*", Keep: 1}))
	streamState(js, "ORDERS")

	if ai, err := js.AccountInfo(); err == nil {
		say("account: streams %d consumers %d memory %d", ai.Streams, ai.Consumers, ai.Memory)
		say("account limits: %+v domain %q tiers %d", ai.Limits, ai.Domain, len(ai.Tiers))
	} else {
		res("account info", nil, err)
	}
	check("delete stream", js.DeleteStream("EVENTS"))
	res("delete stream again", nil, js.DeleteStream("EVENTS"))
	check("delete stream", js.DeleteStream("ORDERS"))
}

// limits: stream limits and flags, and the consumer kinds the main section leaves out.
func limits(url string) {
	nc, err := nats.Connect(url)
	if err != nil {
		res("connect", nil, err)
		os.Exit(1)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	_, err = js.AddStream(&nats.StreamConfig{Name: "LIM", DenyPurge: true, AllowRollup: true})
	res("roll-ups without purges", nil, err)
	_, err = js.AddStream(&nats.StreamConfig{Name: "LIM", Subjects: []string{"lim.>"}, MaxMsgs: 3, Discard: nats.DiscardNew,
		MaxMsgSize: 64, DenyDelete: true, DenyPurge: true, MaxMsgsPerSubject: 2})
	check("add limited stream", err)
	for i := 0; i < 4; i++ {
		a, err := js.Publish(fmt.Sprintf("lim.%d", i), []byte("x"))
		ack(fmt.Sprintf("discard new %d", i), a, err)
	}
	_, err = js.Publish("lim.big", make([]byte, 65))
	res("over max msg size", nil, err)
	res("deny delete", nil, js.DeleteMsg("LIM", 1))
	res("deny purge", nil, js.PurgeStream("LIM"))
	m := nats.NewMsg("lim.0")
	m.Header.Set("Nats-Rollup", "all")
	m.Data = []byte("rolled")
	a, err := js.PublishMsg(m)
	ack("rollup not allowed", a, err)
	streamState(js, "LIM")
	si, err := js.StreamInfo("LIM", &nats.StreamInfoRequest{SubjectsFilter: ">"})
	if err == nil {
		say("subjects: %v", si.State.Subjects)
	} else {
		res("subjects filter", nil, err)
	}
	si, err = js.UpdateStream(&nats.StreamConfig{Name: "LIM", Subjects: []string{"lim.>"}, MaxMsgs: 3, Discard: nats.DiscardNew,
		MaxMsgSize: 64, DenyDelete: true, DenyPurge: true, MaxMsgsPerSubject: 2, Sealed: true})
	if err == nil {
		say("sealed: %v", si.Config.Sealed)
	} else {
		res("seal", nil, err)
	}
	_, err = js.Publish("lim.0", []byte("after seal"))
	res("publish to sealed", nil, err)
	check("delete sealed", js.DeleteStream("LIM"))

	js.AddStream(&nats.StreamConfig{Name: "ROLL", Subjects: []string{"roll.>"}, AllowRollup: true})
	for _, subj := range []string{"roll.a", "roll.a", "roll.b"} {
		js.Publish(subj, []byte("x"))
	}
	m.Subject = "roll.a"
	m.Header.Set("Nats-Rollup", "sub")
	a, err = js.PublishMsg(m)
	ack("rollup subject", a, err)
	streamState(js, "ROLL")
	m.Header.Set("Nats-Rollup", "all")
	a, err = js.PublishMsg(m)
	ack("rollup all", a, err)
	streamState(js, "ROLL")
	// Not a bad Nats-Rollup value: the reference 2.9 does not answer it (later ones do, as
	// rnats, with the error).
	js.DeleteStream("ROLL")

	// Work queue: one consumer per subject, messages gone once acked.
	_, err = js.AddStream(&nats.StreamConfig{Name: "WQ", Subjects: []string{"wq.>"}, Retention: nats.WorkQueuePolicy})
	check("add work queue", err)
	for i := 0; i < 3; i++ {
		js.Publish("wq.job", []byte(fmt.Sprint(i)))
	}
	wq, err := js.PullSubscribe("wq.job", "wqc")
	if err == nil {
		msgs, err := wq.Fetch(3, nats.MaxWait(wait))
		res("work queue fetch", len(msgs), err)
		for _, m := range msgs {
			m.AckSync()
		}
		streamState(js, "WQ")
	} else {
		res("work queue pull", nil, err)
	}
	_, err = js.PullSubscribe("wq.job", "other")
	res("second work queue consumer", nil, err)
	js.DeleteStream("WQ")

	// Interest retention: gone once every consumer acked.
	js.AddStream(&nats.StreamConfig{Name: "INT", Subjects: []string{"int.>"}, Retention: nats.InterestPolicy})
	i1, _ := js.PullSubscribe("int.x", "i1")
	i2, _ := js.PullSubscribe("int.x", "i2")
	js.Publish("int.x", []byte("both"))
	if i1 != nil && i2 != nil {
		for _, sub := range []*nats.Subscription{i1, i2} {
			if msgs, err := sub.Fetch(1, nats.MaxWait(wait)); err == nil {
				msgs[0].AckSync()
			}
			streamState(js, "INT")
		}
	}
	js.DeleteStream("INT")

	// Ack policies, max ack pending, heartbeats and flow control, headers only.
	js.AddStream(&nats.StreamConfig{Name: "POL", Subjects: []string{"pol.>"}})
	for i := 0; i < 5; i++ {
		js.Publish("pol.x", []byte(fmt.Sprint(i)))
	}
	all, err := js.PullSubscribe("pol.x", "all", nats.AckAll())
	if err == nil {
		msgs, _ := all.Fetch(4, nats.MaxWait(wait))
		if len(msgs) == 4 {
			check("ack all", msgs[2].AckSync())
		}
		consumerState(js, "POL", "all")
	}
	none, err := js.PullSubscribe("pol.x", "none", nats.AckNone())
	if err == nil {
		msgs, _ := none.Fetch(2, nats.MaxWait(wait))
		res("ack none fetch", len(msgs), nil)
		consumerState(js, "POL", "none")
	}
	map1, err := js.PullSubscribe("pol.x", "map1", nats.MaxAckPending(2))
	if err == nil {
		msgs, err := map1.Fetch(5, nats.MaxWait(time.Second))
		res("max ack pending fetch", len(msgs), err)
	}
	hb, err := js.SubscribeSync("pol.x", nats.IdleHeartbeat(time.Second), nats.EnableFlowControl(), nats.HeadersOnly())
	if err == nil {
		m, err := hb.NextMsg(wait)
		if err == nil {
			say("headers only: %q size %s", m.Data, m.Header.Get("Nats-Msg-Size"))
		} else {
			res("headers only", nil, err)
		}
		ci, err := hb.ConsumerInfo()
		if err == nil {
			say("heartbeat %v flow control %v headers only %v", ci.Config.Heartbeat, ci.Config.FlowControl, ci.Config.HeadersOnly)
		}
		hb.Unsubscribe()
	} else {
		res("heartbeat sub", nil, err)
	}
	if ai, err := js.AccountInfo(); err == nil {
		say("account: streams %d consumers %d", ai.Streams, ai.Consumers)
	}
	js.DeleteStream("POL")

	// A mirror and a source.
	js.AddStream(&nats.StreamConfig{Name: "ORIGIN", Subjects: []string{"origin.>"}})
	for i := 0; i < 3; i++ {
		js.Publish(fmt.Sprintf("origin.%d", i), []byte(fmt.Sprint(i)))
	}
	_, err = js.AddStream(&nats.StreamConfig{Name: "MIRROR", Mirror: &nats.StreamSource{Name: "ORIGIN"}})
	check("add mirror", err)
	_, err = js.AddStream(&nats.StreamConfig{Name: "SOURCED", Sources: []*nats.StreamSource{{Name: "ORIGIN", FilterSubject: "origin.1"}}})
	check("add sourced", err)
	for _, name := range []string{"MIRROR", "SOURCED"} {
		deadline := time.Now().Add(wait)
		for {
			si, err := js.StreamInfo(name)
			if err == nil && (si.State.Msgs == 3 || name == "SOURCED" && si.State.Msgs == 1) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		streamState(js, name)
	}
	si, err = js.StreamInfo("MIRROR")
	if err == nil && si.Mirror != nil {
		say("mirror info: %s lag %d", si.Mirror.Name, si.Mirror.Lag)
	}
	_, err = js.Publish("origin.mirror", []byte("x"), nats.ExpectStream("MIRROR"))
	res("publish to mirror", nil, err)
	for _, name := range []string{"SOURCED", "MIRROR", "ORIGIN"} {
		js.DeleteStream(name)
	}

	// Where push consumers start, and flow control over many messages.
	js.AddStream(&nats.StreamConfig{Name: "START", Subjects: []string{"start.>"}})
	for i := 0; i < 5; i++ {
		js.Publish("start.x", []byte(fmt.Sprint(i)))
	}
	a, err = js.Publish("start.y", []byte("first y"), nats.ExpectLastSequencePerSubject(0))
	ack("expect no message on subject yet", a, err)
	a, err = js.Publish("start.y", []byte("second y"), nats.ExpectLastSequencePerSubject(0))
	ack("expect no message on subject, there is", a, err)
	from3, err := js.SubscribeSync("start.x", nats.StartSequence(3))
	if err == nil {
		meta("start sequence", next("start sequence", from3))
		from3.Unsubscribe()
	}
	newOnly, err := js.SubscribeSync("start.x", nats.DeliverNew())
	if err == nil {
		js.Publish("start.x", []byte("new"))
		meta("deliver new", next("deliver new", newOnly))
		newOnly.Unsubscribe()
	}
	_, err = js.SubscribeSync("", nats.Bind("START", "bound"))
	res("bind to missing consumer", nil, err)
	_, err = js.AddConsumer("START", &nats.ConsumerConfig{Durable: "bound", DeliverSubject: "deliver.here", AckPolicy: nats.AckExplicitPolicy})
	check("add push consumer", err)
	bound, err := js.SubscribeSync("", nats.Bind("START", "bound"))
	if err == nil {
		meta("bound", next("bound", bound))
		_, err = js.SubscribeSync("", nats.Bind("START", "bound"))
		res("bind twice", nil, err)
		bound.Unsubscribe()
	} else {
		res("bind", nil, err)
	}
	for i := 0; i < 2000; i++ {
		js.PublishAsync("start.many", make([]byte, 1024))
	}
	<-js.PublishAsyncComplete()
	fc, err := js.SubscribeSync("start.many", nats.EnableFlowControl(), nats.IdleHeartbeat(time.Second), nats.AckNone())
	if err == nil {
		n := 0
		for ; n < 2000; n++ {
			if _, err := fc.NextMsg(wait); err != nil {
				res("flow control", n, err)
				break
			}
		}
		say("flow controlled messages: %d", n)
		fc.Unsubscribe()
	}
	si, err = js.StreamInfo("START", &nats.StreamInfoRequest{DeletedDetails: true})
	if err == nil {
		say("deleted details: %v", si.State.Deleted)
	}
	js.DeleteMsg("START", 2)
	js.DeleteMsg("START", 4)
	si, err = js.StreamInfo("START", &nats.StreamInfoRequest{DeletedDetails: true})
	if err == nil {
		say("deleted details: %v num %d", si.State.Deleted, si.State.NumDeleted)
	}
	js.DeleteStream("START")
}

func entry(step string, e nats.KeyValueEntry, err error) {
	if err != nil {
		say("%s: error: %v", step, err)
		return
	}
	say("%s: %s=%q rev %d delta %d op %v", step, e.Key(), e.Value(), e.Revision(), e.Delta(), e.Operation())
}

func watched(step string, w nats.KeyWatcher, n int) {
	for i := 0; i < n; i++ {
		select {
		case e := <-w.Updates():
			if e == nil {
				say("%s: initial values done", step)
			} else {
				say("%s: %s=%q rev %d op %v", step, e.Key(), e.Value(), e.Revision(), e.Operation())
			}
		case <-time.After(wait):
			say("%s: timed out", step)
			return
		}
	}
}

func kv(url string) {
	nc, err := nats.Connect(url)
	if err != nil {
		res("connect", nil, err)
		os.Exit(1)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	kv, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "cfg", History: 5, Description: "probe"})
	if err != nil {
		res("create kv", nil, err)
		return
	}
	r1, err := kv.Put("a", []byte("1"))
	res("put", r1, err)
	r2, err := kv.PutString("a", "2")
	res("put", r2, err)
	e, err := kv.Get("a")
	entry("get", e, err)
	_, err = kv.Get("missing")
	res("get missing", nil, err)
	r3, err := kv.Update("a", []byte("3"), r2)
	res("update", r3, err)
	_, err = kv.Update("a", []byte("x"), r1)
	res("stale update", nil, err)
	_, err = kv.Create("a", []byte("x"))
	res("create existing", nil, err)
	rb, err := kv.Create("b", []byte("bee"))
	res("create new", rb, err)
	check("delete", kv.Delete("b"))
	_, err = kv.Get("b")
	res("get deleted", nil, err)
	rb, err = kv.Create("b", []byte("again"))
	res("create after delete", rb, err)
	e, err = kv.GetRevision("a", r1)
	entry("get revision", e, err)
	kv.Put("c.x", []byte("cx"))
	kv.Put("c.y", []byte("cy"))
	check("purge", kv.Purge("c.y"))
	keys, err := kv.Keys()
	sort.Strings(keys)
	res("keys", keys, err)
	hist, err := kv.History("a")
	if err == nil {
		for _, h := range hist {
			entry("history", h, nil)
		}
	} else {
		res("history", nil, err)
	}
	_, err = kv.History("nothing")
	res("history missing", nil, err)

	w, err := kv.WatchAll()
	if err == nil {
		watched("watch all", w, 4)
		kv.Put("d", []byte("dee"))
		kv.Delete("a")
		watched("watch all update", w, 3)
		w.Stop()
	} else {
		res("watch all", nil, err)
	}
	w, err = kv.Watch("c.*")
	if err == nil {
		watched("watch c.*", w, 3)
		kv.Put("c.z", []byte("cz"))
		kv.Put("other", []byte("no"))
		watched("watch c.* update", w, 1)
		w.Stop()
	} else {
		res("watch", nil, err)
	}
	w, err = kv.Watch("none.*")
	if err == nil {
		watched("watch empty", w, 1)
		w.Stop()
	}
	w, err = kv.Watch("c.*", nats.IgnoreDeletes(), nats.IncludeHistory())
	if err == nil {
		watched("watch ignore deletes with history", w, 3)
		w.Stop()
	}
	w, err = kv.Watch("d", nats.MetaOnly())
	if err == nil {
		watched("watch meta only", w, 2)
		w.Stop()
	}
	rd, _ := kv.Put("del", []byte("x"))
	res("delete with stale revision", nil, kv.Delete("del", nats.LastRevision(rd-1)))
	check("delete with revision", kv.Delete("del", nats.LastRevision(rd)))
	if si, err := js.StreamInfo("KV_cfg"); err == nil {
		say("kv stream config: %+v", si.Config)
	}
	st, err := kv.Status()
	if err == nil {
		say("status: %s values %d history %d ttl %v store %s", st.Bucket(), st.Values(), st.History(), st.TTL(), st.BackingStore())
	} else {
		res("status", nil, err)
	}
	names := []string{}
	for n := range js.KeyValueStoreNames() {
		names = append(names, n)
	}
	res("kv names", names, nil)
	_, err = js.KeyValue("nope")
	res("bind missing bucket", nil, err)
	kv2, err := js.KeyValue("cfg")
	if err == nil {
		e, err := kv2.Get("d")
		entry("bound get", e, err)
	}
	check("purge deletes", kv.PurgeDeletes(nats.DeleteMarkersOlderThan(-1)))
	keys, err = kv.Keys()
	sort.Strings(keys)
	res("keys after purge deletes", keys, err)
	check("delete bucket", js.DeleteKeyValue("cfg"))
	_, err = js.KeyValue("cfg")
	res("bind deleted bucket", nil, err)

	again, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "small", MaxBytes: 200, History: 1})
	if err == nil {
		_, err = js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "small", MaxBytes: 200, History: 1})
		res("create bucket twice", nil, err)
		for i := 0; i < 5; i++ {
			_, err := again.Put(fmt.Sprintf("k%d", i), make([]byte, 40))
			res("put into small bucket", i, err)
		}
		st, _ := again.Status()
		say("small bucket: values %d bytes %d", st.Values(), st.Bytes())
	} else {
		res("create small bucket", nil, err)
	}
	ttl, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "ttl", TTL: time.Hour, Storage: nats.MemoryStorage, MaxValueSize: 16})
	if err == nil {
		_, err = ttl.Put("k", []byte("a value longer than sixteen"))
		res("value over max", nil, err)
		st, _ := ttl.Status()
		say("ttl status: ttl %v store %s", st.TTL(), st.BackingStore())
	} else {
		res("create ttl kv", nil, err)
	}
}

func objects(url string) {
	nc, err := nats.Connect(url)
	if err != nil {
		res("connect", nil, err)
		os.Exit(1)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	obs, err := js.CreateObjectStore(&nats.ObjectStoreConfig{Bucket: "files", Description: "probe"})
	if err != nil {
		res("create object store", nil, err)
		return
	}
	w, err := obs.Watch()
	if err != nil {
		res("watch", nil, err)
	}
	if si, err := js.StreamInfo("OBJ_files"); err == nil {
		say("object stream config: %+v", si.Config)
	}
	small, err := obs.PutString("small", "hello")
	if err == nil {
		say("put small: size %d chunks %d digest %s", small.Size, small.Chunks, small.Digest)
	} else {
		res("put small", nil, err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 5*1024*1024/16+7)
	info, err := obs.PutBytes("big", big)
	if err == nil {
		say("put big: size %d chunks %d digest %s", info.Size, info.Chunks, info.Digest)
	} else {
		res("put big", nil, err)
	}
	got, err := obs.GetBytes("big")
	res("get big matches", bytes.Equal(got, big), err)
	s, err := obs.GetString("small")
	res("get small", s, err)
	gi, err := obs.GetInfo("big")
	if err == nil {
		say("info: %s size %d chunks %d deleted %v", gi.Name, gi.Size, gi.Chunks, gi.Deleted)
	} else {
		res("info", nil, err)
	}
	_, err = obs.GetInfo("missing")
	res("info missing", nil, err)
	_, err = obs.Get("missing")
	res("get missing", nil, err)
	list, err := obs.List()
	var names []string
	for _, o := range list {
		names = append(names, fmt.Sprintf("%s:%d", o.Name, o.Size))
	}
	sort.Strings(names)
	res("list", names, err)
	// Replacing an object keeps one entry.
	_, err = obs.PutString("small", "hello again")
	check("replace small", err)
	s, err = obs.GetString("small")
	res("get replaced", s, err)
	check("delete", obs.Delete("big"))
	_, err = obs.Get("big")
	res("get deleted", nil, err)
	gi, err = obs.GetInfo("big")
	if err == nil {
		say("info deleted: size %d chunks %d deleted %v", gi.Size, gi.Chunks, gi.Deleted)
	} else {
		res("info deleted", nil, err)
	}
	list, err = obs.List()
	names = nil
	for _, o := range list {
		names = append(names, o.Name)
	}
	res("list after delete", names, err)
	if w != nil {
		var seen []string
	loop:
		for {
			select {
			case o := <-w.Updates():
				if o == nil {
					seen = append(seen, "<initial done>")
				} else {
					seen = append(seen, fmt.Sprintf("%s deleted=%v", o.Name, o.Deleted))
				}
			case <-time.After(500 * time.Millisecond):
				break loop
			}
		}
		say("object watch: %s", strings.Join(seen, ", "))
		w.Stop()
	}
	st, err := obs.Status()
	if err == nil {
		say("object status: %s sealed %v store %s", st.Bucket(), st.Sealed(), st.BackingStore())
	} else {
		res("object status", nil, err)
	}
	link, err := obs.AddLink("link", small)
	if err == nil {
		say("link: %s to %s/%s", link.Name, link.Opts.Link.Bucket, link.Opts.Link.Name)
		s, err := obs.GetString("link")
		res("get through link", s, err)
	} else {
		res("add link", nil, err)
	}
	check("update meta", obs.UpdateMeta("small", &nats.ObjectMeta{Name: "renamed", Description: "moved"}))
	gi, err = obs.GetInfo("renamed")
	if err == nil {
		say("renamed: %s %q size %d", gi.Name, gi.Description, gi.Size)
	} else {
		res("renamed", nil, err)
	}
	_, err = obs.GetInfo("small")
	res("old name", nil, err)
	check("seal", obs.Seal())
	_, err = obs.PutString("after", "seal")
	res("put after seal", nil, err)
	st, err = obs.Status()
	if err == nil {
		say("object status: sealed %v", st.Sealed())
	}
	check("delete object store", js.DeleteObjectStore("files"))
}
