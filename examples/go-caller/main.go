// Command go-caller is an mcpq caller in Go, using only the wire contract
// (docs/protocol.md) and the NATS Go client: it submits a tool call through
// JetStream with a Nats-Msg-Id, then replays the call's events from the
// MCPQ_EVENTS stream until its one result.
//
// Build off-line against Debian's packages (golang-go, golang-github-nats-io-go-nats-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o go-caller .
//
// Run:
//
//	NATS_URL=nats://127.0.0.1:4222 ./go-caller -server demo -tool slow -args '{"durationMs":2000,"steps":2}'
//
// It prints one JSON line per event ({"kind":"status"|"progress"|"result","event":{...}}) and exits
// 0 when the result is completed, 1 when it is not, 2 on a usage or connection error, 3 when no
// result came within -wait.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// callRequest is the CallRequest of the wire contract (schemas/v1/call-request.json).
type callRequest struct {
	CallID    string                 `json:"callId"`
	Tool      string                 `json:"tool"`
	Arguments map[string]interface{} `json:"arguments,omitempty"`
	TimeoutMs int64                  `json:"timeoutMs,omitempty"`
}

// resultEvent holds the fields of a ResultEvent this caller reads; readers ignore the others.
type resultEvent struct {
	CallID string          `json:"callId"`
	Status string          `json:"status"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func main() {
	server := flag.String("server", "demo", "server alias (as configured in mcpq)")
	tool := flag.String("tool", "", "tool name")
	args := flag.String("args", "{}", "tool arguments as a JSON object")
	callID := flag.String("call-id", "", "call id (default: random)")
	prefix := flag.String("prefix", envOr("MCPQ_PREFIX", "mcpq"), "mcpq subject prefix")
	timeout := flag.Duration("timeout", 0, "the call's deadline (timeoutMs), 0 for none")
	wait := flag.Duration("wait", 60*time.Second, "how long to wait for the result")
	flag.Parse()
	if *tool == "" {
		fail(2, "-tool is required")
	}
	req := callRequest{CallID: *callID, Tool: *tool, TimeoutMs: timeout.Milliseconds()}
	if req.CallID == "" {
		req.CallID = randomID()
	}
	if err := json.Unmarshal([]byte(*args), &req.Arguments); err != nil {
		fail(2, "-args is not a JSON object: %v", err)
	}

	nc, err := nats.Connect(envOr("NATS_URL", nats.DefaultURL), nats.Name("mcpq-go-caller"))
	if err != nil {
		fail(2, "cannot connect to NATS: %v", err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		fail(2, "JetStream: %v", err)
	}

	// Subscribe first, replaying from the start of the stream, so no event can be missed.
	events, err := js.SubscribeSync(fmt.Sprintf("%s.call.%s.*", *prefix, req.CallID), nats.OrderedConsumer(), nats.DeliverAll())
	if err != nil {
		fail(2, "subscribe to the call's events: %v", err)
	}
	defer events.Unsubscribe()

	body, _ := json.Marshal(req)
	subject := fmt.Sprintf("%s.submit.%s", *prefix, *server)
	// Nats-Msg-Id = callId: JetStream drops a repeated submission within the duplicate window.
	for attempt := 1; attempt <= 2; attempt++ {
		ack, err := js.Publish(subject, body, nats.MsgId(req.CallID))
		if err != nil {
			fail(2, "submit: %v", err)
		}
		emit("submitted", map[string]interface{}{"callId": req.CallID, "stream": ack.Stream, "seq": ack.Sequence, "duplicate": ack.Duplicate})
	}

	deadline := time.Now().Add(*wait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			fail(3, "no result for %s within %s", req.CallID, *wait)
		}
		msg, err := events.NextMsg(left)
		if err == nats.ErrTimeout {
			continue
		}
		if err != nil {
			fail(2, "reading events: %v", err)
		}
		kind := msg.Subject[strings.LastIndex(msg.Subject, ".")+1:]
		emit(kind, json.RawMessage(msg.Data))
		if kind != "result" {
			continue
		}
		var result resultEvent
		if err := json.Unmarshal(msg.Data, &result); err != nil || result.CallID != req.CallID {
			fail(2, "the result is not a ResultEvent of %s: %v", req.CallID, err)
		}
		if result.Status != "completed" {
			os.Exit(1)
		}
		return
	}
}

func emit(kind string, event interface{}) {
	line, _ := json.Marshal(map[string]interface{}{"kind": kind, "event": event})
	fmt.Println(string(line))
}

func fail(code int, format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-caller: "+format+"\n", a...)
	os.Exit(code)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func randomID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		fail(2, "random: %v", err)
	}
	return "go-" + hex.EncodeToString(b)
}
