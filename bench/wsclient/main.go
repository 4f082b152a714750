// Command wsclient is the subscriber process of bench/'s fan-out workload (workload 5): N
// graphql-transport-ws sockets on taskChanged, each signed in as its own principal (a line of the
// --tokens file), all read by one poller goroutine (epoll).
//
// It talks to the orchestrator (bench/benchkit/fanout.py) by lines on stdout: READY once every socket is
// acknowledged and subscribed, PRIMED once every socket has received a `next` event; on STOP (or a blank
// line, or end of input, on stdin) it closes the sockets, writes its receive times and counters as JSON to
// --out and prints DONE:
//
//	{"received": {"<seq>": [monotonic receive times]}, "messages": n, "primed": n,
//	 "errors": [first 20], "error_count": n, "cpu_s": user+system seconds}
//
// <seq> is the n of an event whose task title is "bench-fanout <n>" (warm-up events have none). Times are
// CLOCK_MONOTONIC seconds, the clock Python's time.monotonic() reads in the orchestrator, taken when the
// read that completed a message's last frame returned (before its JSON is decoded). `ping` messages are answered with
// `pong`; `error` and `complete` messages, `next` payloads with errors and sockets closed by the server
// count as errors.
//
// The WebSocket side is a minimal RFC 6455 client over net.Conn (ws:// on the loopback, no extensions):
// the upgrade with its Sec-WebSocket-Accept check, masked client frames, fragmented messages, ping/pong
// and close control frames. Once subscribed, every socket of the process is read by one goroutine from a
// level-triggered epoll set (the poller below), each read's receive time stamped once it returns.
//
// Standard library only; built by bench/benchkit (gobuild.py) into bench/.work/wsclient.
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
	"unsafe"
)

const (
	defaultQuery = "subscription Fanout { taskChanged { kind task { id title } changedFields } }"
	marker       = "bench-fanout "
	subprotocol  = "graphql-transport-ws"
	acceptGUID   = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	openParallel = 50
	openTimeout  = 30 * time.Second
	closeWait    = 10 * time.Second
	maxMessage   = 16 << 20
	keepErrors   = 20
	errorChars   = 300
	readChunk    = 16 << 10
)

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// ------------------------------------------------------------------------------------------------ clock

var (
	monoBase float64   // CLOCK_MONOTONIC seconds at goBase
	goBase   time.Time // carries Go's monotonic reading, which is CLOCK_MONOTONIC on Linux
)

func clockMonotonic() float64 {
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 1 /* CLOCK_MONOTONIC */, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		fatal("clock_gettime(CLOCK_MONOTONIC): %v", errno)
	}
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

// initClock pins CLOCK_MONOTONIC to Go's monotonic clock once; now() is then a vDSO read, not a syscall.
func initClock() {
	before := clockMonotonic()
	goBase = time.Now()
	after := clockMonotonic()
	monoBase = (before + after) / 2
}

func now() float64 { return monoBase + time.Since(goBase).Seconds() }

// -------------------------------------------------------------------------------------------- the tally

type arrival struct {
	seq int
	at  float64
}

type tally struct {
	total     int64
	primed    atomic.Int64
	allPrimed chan struct{}

	mu      sync.Mutex
	errors  []string
	nErrors int
}

func (t *tally) fail(text string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nErrors++
	if len(t.errors) < keepErrors {
		t.errors = append(t.errors, truncate(text, errorChars))
	}
}

func truncate(text string, chars int) string {
	if utf8.RuneCountInString(text) <= chars {
		return text
	}
	return string([]rune(text)[:chars])
}

// ---------------------------------------------------------------------------------------------- sockets

type conn struct {
	index int
	nc    net.Conn
	br    *bufio.Reader // the upgrade's response only
	fd    int           // once the poller reads the socket
	in    []byte        // bytes received, from pos on not yet parsed
	pos   int
	msg   []byte // a fragmented message being assembled (reused)

	fragmented bool

	wmu       sync.Mutex
	closeSent atomic.Bool
	abandoned atomic.Bool // the client gave up waiting for the close handshake: no more errors
	arrivals  []arrival   // owned by the listener until it returns
	messages  int
	wasPrimed bool
}

type closeError struct {
	code   int
	reason string
}

func (e closeError) Error() string { return fmt.Sprintf("received %d (%s)", e.code, e.reason) }

func (c *conn) writeFrame(opcode byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	buf := make([]byte, 0, 14+len(payload))
	buf = append(buf, 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		buf = append(buf, 0x80|byte(n))
	case n <= 0xFFFF:
		buf = append(buf, 0x80|126)
		buf = binary.BigEndian.AppendUint16(buf, uint16(n))
	default:
		buf = append(buf, 0x80|127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], mrand.Uint32())
	buf = append(buf, key[:]...)
	start := len(buf)
	buf = append(buf, payload...)
	for i := range payload {
		buf[start+i] ^= key[i&3]
	}
	_, err := c.nc.Write(buf)
	return err
}

func (c *conn) sendText(text string) error { return c.writeFrame(opText, []byte(text)) }

func (c *conn) sendJSON(value any) error {
	body, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return c.writeFrame(opText, body)
}

// sendClose starts the closing handshake once (code 1000 unless echoing the server's).
func (c *conn) sendClose(code int) {
	if c.closeSent.Swap(true) {
		return
	}
	_ = c.writeFrame(opClose, binary.BigEndian.AppendUint16(nil, uint16(code)))
}

// parseFrame reads one frame from the front of c.in; ok is false (nothing consumed) while it is incomplete.
// The payload is valid until c.in is compacted (the caller copies what it keeps).
func (c *conn) parseFrame() (ok, fin bool, opcode byte, payload []byte, err error) {
	in := c.in[c.pos:]
	if len(in) < 2 {
		return
	}
	fin, opcode = in[0]&0x80 != 0, in[0]&0x0F
	if in[0]&0x70 != 0 {
		return false, fin, opcode, nil, errors.New("protocol error: reserved bits set (no extension was negotiated)")
	}
	masked := in[1]&0x80 != 0
	size, head := uint64(in[1]&0x7F), 2
	switch size {
	case 126:
		if len(in) < 4 {
			return
		}
		size, head = uint64(binary.BigEndian.Uint16(in[2:4])), 4
	case 127:
		if len(in) < 10 {
			return
		}
		size, head = binary.BigEndian.Uint64(in[2:10]), 10
	}
	if opcode >= opClose && (size > 125 || !fin) {
		return false, fin, opcode, nil, errors.New("protocol error: fragmented or oversized control frame")
	}
	if size > maxMessage {
		return false, fin, opcode, nil, fmt.Errorf("frame of %d bytes is over the %d limit", size, maxMessage)
	}
	var key []byte
	if masked {
		if len(in) < head+4 {
			return
		}
		key, head = in[head:head+4], head+4
	}
	if uint64(len(in)-head) < size {
		return
	}
	payload = in[head : head+int(size)]
	if masked {
		for i := range payload {
			payload[i] ^= key[i&3]
		}
	}
	c.pos += head + int(size)
	return true, fin, opcode, payload, nil
}

// nextMessage returns the next complete data message in c.in (ok false: none yet), answering pings and
// ending with a closeError on a close frame. The message is valid until c.in is compacted.
func (c *conn) nextMessage() (message []byte, ok bool, err error) {
	for {
		complete, fin, opcode, payload, err := c.parseFrame()
		if err != nil || !complete {
			return nil, false, err
		}
		switch opcode {
		case opPing:
			if err := c.writeFrame(opPong, payload); err != nil {
				return nil, false, err
			}
		case opPong:
		case opClose:
			code, reason := 1005, ""
			if len(payload) >= 2 {
				code, reason = int(binary.BigEndian.Uint16(payload)), string(payload[2:])
			}
			echo := code
			if code == 1005 {
				echo = 1000 // "no status" is not sent on the wire
			}
			c.sendClose(echo)
			return nil, false, closeError{code, reason}
		case opText, opBinary:
			if c.fragmented {
				return nil, false, errors.New("protocol error: new message inside a fragmented one")
			}
			if fin {
				return payload, true, nil
			}
			c.fragmented = true
			c.msg = append(c.msg[:0], payload...)
		case opContinuation:
			if !c.fragmented {
				return nil, false, errors.New("protocol error: continuation frame without a message")
			}
			c.msg = append(c.msg, payload...)
			if len(c.msg) > maxMessage {
				return nil, false, fmt.Errorf("message over the %d-byte limit", maxMessage)
			}
			if fin {
				c.fragmented = false
				return c.msg, true, nil
			}
		default:
			return nil, false, fmt.Errorf("protocol error: opcode %#x", opcode)
		}
	}
}

// fill appends what one read returns to c.in (after dropping what was parsed); n is 0 at end of input.
func (c *conn) fill(read func([]byte) (int, error)) (n int, err error) {
	if c.pos > 0 {
		c.in = c.in[:copy(c.in, c.in[c.pos:])]
		c.pos = 0
	}
	if cap(c.in)-len(c.in) < readChunk {
		grown := make([]byte, len(c.in), 2*cap(c.in)+readChunk)
		copy(grown, c.in)
		c.in = grown
	}
	n, err = read(c.in[len(c.in):cap(c.in)])
	if n > 0 {
		c.in = c.in[:len(c.in)+n]
	}
	return n, err
}

// readMessage waits for the next data message on the blocking net.Conn (the handshake, before the socket
// joins the poller).
func (c *conn) readMessage() ([]byte, error) {
	for {
		message, ok, err := c.nextMessage()
		if err != nil || ok {
			return message, err
		}
		if n, err := c.fill(c.nc.Read); err != nil {
			return nil, err
		} else if n == 0 {
			return nil, io.EOF
		}
	}
}

type envelope struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

type nextPayload struct {
	Data struct {
		TaskChanged struct {
			Task struct {
				Title string `json:"title"`
			} `json:"task"`
		} `json:"taskChanged"`
	} `json:"data"`
	Errors json.RawMessage `json:"errors"`
}

// nextMessage is a whole `next` message, for decoding it in one pass.
type nextMessage struct {
	Type    string       `json:"type"`
	Payload *nextPayload `json:"payload"`
}

// seqOf is the n in a task title "bench-fanout <n>" (a title of digits only counts too, as in Python's
// removeprefix + isdigit); ok is false for warm-up events.
func seqOf(title string) (int, bool) {
	tail := strings.TrimPrefix(title, marker)
	if tail == "" {
		return 0, false
	}
	for i := 0; i < len(tail); i++ {
		if tail[i] < '0' || tail[i] > '9' {
			return 0, false
		}
	}
	seq, err := strconv.Atoi(tail)
	return seq, err == nil
}

func hasErrors(raw json.RawMessage) bool {
	text := strings.TrimSpace(string(raw))
	return text != "" && text != "null" && text != "[]" && text != "{}" && text != `""`
}

// ended records why a socket's reading ended (nothing when the close was ours or expected).
func (c *conn) ended(t *tally, err error) {
	var closed closeError
	switch {
	case c.abandoned.Load():
	case errors.As(err, &closed) && (closed.code == 1000 || closed.code == 1001):
	case errors.As(err, &closed):
		t.fail("ConnectionClosedError: " + err.Error())
	case c.closeSent.Load() && errors.Is(err, io.EOF):
	default:
		t.fail("ConnectionClosedError: " + err.Error())
	}
}

// handle judges one data message received at `at`; false when the socket must stop being read.
func (c *conn) handle(t *tally, raw []byte, at float64) bool {
	// One decoding pass for the common case, a `next` message; anything else (an `error` message's
	// payload is a list) is decoded again as an envelope, to be judged by its type.
	var next nextMessage
	if json.Unmarshal(raw, &next) == nil && next.Type == "next" && next.Payload != nil {
		c.received(t, next.Payload, at)
		return true
	}
	var message envelope
	if err := json.Unmarshal(raw, &message); err != nil {
		t.fail("JSONDecodeError: " + err.Error())
		return false
	}
	switch message.Type {
	case "ping":
		if err := c.sendText(`{"type":"pong"}`); err != nil {
			t.fail("ConnectionClosedError: " + err.Error())
			return false
		}
	case "error", "complete":
		t.fail(string(raw))
	case "next":
		var payload nextPayload
		if err := json.Unmarshal(message.Payload, &payload); err != nil {
			t.fail("JSONDecodeError: " + err.Error())
			return false
		}
		c.received(t, &payload, at)
	}
	return true
}

// received counts a `next` payload, and its arrival when it is a timed event.
func (c *conn) received(t *tally, payload *nextPayload, at float64) {
	if hasErrors(payload.Errors) {
		t.fail(string(payload.Errors))
	}
	c.messages++
	if !c.wasPrimed {
		c.wasPrimed = true
		if t.primed.Add(1) == t.total {
			close(t.allPrimed)
		}
	}
	if seq, ok := seqOf(payload.Data.TaskChanged.Task.Title); ok {
		c.arrivals = append(c.arrivals, arrival{seq, at})
	}
}

// ------------------------------------------------------------------------------------------ the poller

// poller reads every socket of the process from one goroutine: a level-triggered epoll set, one read per
// ready socket per wake-up (a goroutine per socket costs a scheduler wake-up and an extra read that
// fails with EAGAIN per message, which on this 2-core machine took CPU from the server being measured).
type poller struct {
	epfd  int
	byFd  map[int32]*conn
	done  *sync.WaitGroup
	t     *tally
	mu    sync.Mutex // guards byFd against add() while the loop runs
	spare []byte
}

func newPoller(t *tally, done *sync.WaitGroup) *poller {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		fatal("epoll_create1: %v", err)
	}
	return &poller{epfd: epfd, byFd: map[int32]*conn{}, done: done, t: t}
}

// add moves an opened socket (handshake done, net.Conn no longer read) into the poller.
func (p *poller) add(c *conn) error {
	raw, err := c.nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	if err := raw.Control(func(fd uintptr) { c.fd = int(fd) }); err != nil {
		return err
	}
	p.mu.Lock()
	p.byFd[int32(c.fd)] = c
	p.mu.Unlock()
	p.done.Add(1)
	event := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(c.fd)}
	return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, c.fd, &event)
}

// run reads until every socket has ended.
func (p *poller) run() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, 100)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			fatal("epoll_wait: %v", err)
		}
		for _, event := range events[:max(n, 0)] {
			p.mu.Lock()
			c := p.byFd[event.Fd]
			p.mu.Unlock()
			if c != nil {
				p.readable(c)
			}
		}
	}
}

// readable reads what one socket has and handles every complete message in it.
func (p *poller) readable(c *conn) {
	n, err := c.fill(func(buf []byte) (int, error) { return syscall.Read(c.fd, buf) })
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
		return
	}
	at := now()
	if err == nil && n == 0 {
		err = io.EOF
	}
	for err == nil {
		message, ok, parseErr := c.nextMessage()
		if parseErr != nil {
			err = parseErr
			break
		}
		if !ok {
			return
		}
		if !c.handle(p.t, message, at) {
			p.remove(c)
			return
		}
	}
	c.ended(p.t, err)
	p.remove(c)
}

func (p *poller) remove(c *conn) {
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	p.mu.Lock()
	delete(p.byFd, int32(c.fd))
	p.mu.Unlock()
	c.nc.Close()
	p.done.Done()
}

// open upgrades a connection, signs in with connection_init and subscribes (the upgrade within 30 s, as
// the Python client's open_timeout).
func open(target *url.URL, index int, authorization, query string) (*conn, error) {
	nc, err := net.DialTimeout("tcp", target.Host, openTimeout)
	if err != nil {
		return nil, err
	}
	c := &conn{index: index, nc: nc, br: bufio.NewReaderSize(nc, 4096)}
	if err := c.upgrade(target, authorization); err != nil {
		nc.Close()
		return nil, err
	}
	if buffered := c.br.Buffered(); buffered > 0 { // frames the server sent right after its 101
		early, _ := c.br.Peek(buffered)
		c.in = append(c.in, early...)
	}
	c.br = nil
	payload := map[string]string{}
	if authorization != "" {
		payload["Authorization"] = authorization
	}
	if err := c.sendJSON(map[string]any{"type": "connection_init", "payload": payload}); err != nil {
		nc.Close()
		return nil, err
	}
	for acked := false; !acked; {
		raw, err := c.readMessage()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("before connection_ack: %w", err)
		}
		var message envelope
		if err := json.Unmarshal(raw, &message); err != nil {
			nc.Close()
			return nil, fmt.Errorf("before connection_ack: %w", err)
		}
		switch message.Type {
		case "connection_ack":
			acked = true
		case "ping":
			err = c.sendText(`{"type":"pong"}`)
		}
		if err != nil {
			nc.Close()
			return nil, err
		}
	}
	subscribe := map[string]any{"id": "1", "type": "subscribe", "payload": map[string]string{"query": query}}
	if err := c.sendJSON(subscribe); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *conn) upgrade(target *url.URL, authorization string) error {
	if err := c.nc.SetDeadline(time.Now().Add(openTimeout)); err != nil {
		return err
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	key := base64.StdEncoding.EncodeToString(nonce[:])
	path := target.RequestURI()
	var request strings.Builder
	fmt.Fprintf(&request, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, target.Host)
	fmt.Fprintf(&request, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n", key, subprotocol)
	request.WriteString("User-Agent: taskboard-bench-wsclient\r\n")
	if authorization != "" {
		fmt.Fprintf(&request, "Authorization: %s\r\n", authorization)
	}
	request.WriteString("\r\n")
	if _, err := io.WriteString(c.nc, request.String()); err != nil {
		return err
	}
	reader := textproto.NewReader(c.br)
	status, err := reader.ReadLine()
	if err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	header, err := reader.ReadMIMEHeader()
	if err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	if fields := strings.Fields(status); len(fields) < 2 || fields[1] != "101" {
		return fmt.Errorf("server rejected WebSocket connection: %s", status)
	}
	digest := sha1.Sum([]byte(key + acceptGUID))
	switch {
	case !strings.EqualFold(header.Get("Upgrade"), "websocket"):
		return fmt.Errorf("upgrade: Upgrade header %q", header.Get("Upgrade"))
	case !hasToken(header.Get("Connection"), "upgrade"):
		return fmt.Errorf("upgrade: Connection header %q", header.Get("Connection"))
	case header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(digest[:]):
		return fmt.Errorf("upgrade: wrong Sec-WebSocket-Accept %q", header.Get("Sec-WebSocket-Accept"))
	case header.Get("Sec-WebSocket-Protocol") != subprotocol:
		return fmt.Errorf("upgrade: subprotocol %q, asked for %s", header.Get("Sec-WebSocket-Protocol"), subprotocol)
	case header.Get("Sec-WebSocket-Extensions") != "":
		return fmt.Errorf("upgrade: extensions %q, asked for none", header.Get("Sec-WebSocket-Extensions"))
	}
	return c.nc.SetDeadline(time.Time{})
}

func hasToken(list, token string) bool {
	for _, item := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(item), token) {
			return true
		}
	}
	return false
}

// openAll opens every socket, openParallel at a time, and starts its listener; the first failure ends
// the process (as the Python client's gather did).
func openAll(target *url.URL, authorizations []string, query string, p *poller) []*conn {
	conns := make([]*conn, len(authorizations))
	gate := make(chan struct{}, openParallel)
	var opened sync.WaitGroup
	for i := range authorizations {
		opened.Add(1)
		gate <- struct{}{}
		go func() {
			defer opened.Done()
			defer func() { <-gate }()
			c, err := open(target, i, authorizations[i], query)
			if err != nil {
				fatal("socket %d: %v", i, err)
			}
			conns[i] = c
			if err := p.add(c); err != nil {
				fatal("socket %d: %v", i, err)
			}
		}()
	}
	opened.Wait()
	return conns
}

// closeAll sends every socket a close frame and waits closeWait for the listeners to see the server's
// answer; then it cuts what is left.
func closeAll(conns []*conn, listening *sync.WaitGroup) {
	for _, c := range conns {
		c.sendClose(1000)
	}
	finished := make(chan struct{})
	go func() { listening.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(closeWait):
		for _, c := range conns {
			c.abandoned.Store(true)
			_ = syscall.Shutdown(c.fd, syscall.SHUT_RDWR) // the poller reads the end and lets the socket go
		}
		<-finished
	}
}

// ----------------------------------------------------------------------------------------------- process

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "wsclient: "+format+"\n", args...)
	os.Exit(1)
}

// authorizations is socket i's "Bearer ...": line offset + i of the tokens file, or none without one.
func authorizations(count int, tokens string, offset int) []string {
	if tokens == "" {
		return make([]string, count)
	}
	data, err := os.ReadFile(tokens)
	if err != nil {
		fatal("%v", err)
	}
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if offset < 0 || offset+count > len(lines) {
		fatal("%s has %d tokens, need %d", tokens, len(lines), offset+count)
	}
	return lines[offset : offset+count]
}

func raiseFdLimit() {
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		fatal("getrlimit: %v", err)
	}
	limit.Cur = min(limit.Max, 65536)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		fatal("setrlimit: %v", err)
	}
}

func cpuSeconds() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		fatal("getrusage: %v", err)
	}
	seconds := func(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
	return seconds(usage.Utime) + seconds(usage.Stime)
}

// lines prints the protocol words; after STOP only DONE.
type lines struct {
	mu      sync.Mutex
	stopped bool
}

func (l *lines) say(word string, evenStopped bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped || evenStopped {
		fmt.Println(word)
	}
}

func (l *lines) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

func waitForStop() {
	input := bufio.NewReader(os.Stdin)
	for {
		line, err := input.ReadString('\n')
		if word := strings.TrimSpace(line); word == "STOP" || word == "" || err != nil {
			return
		}
	}
}

func writeResult(out string, conns []*conn, t *tally) {
	received := map[string][]float64{}
	messages, primed := 0, 0
	for _, c := range conns {
		messages += c.messages
		if c.wasPrimed {
			primed++
		}
		for _, a := range c.arrivals {
			key := strconv.Itoa(a.seq)
			received[key] = append(received[key], a.at)
		}
	}
	t.mu.Lock()
	result := map[string]any{
		"received": received, "messages": messages, "primed": primed,
		"errors": append([]string{}, t.errors...), "error_count": t.nErrors, "cpu_s": cpuSeconds(),
	}
	t.mu.Unlock()
	body, err := json.Marshal(result)
	if err != nil {
		fatal("%v", err)
	}
	if err := os.WriteFile(out, body, 0o644); err != nil {
		fatal("%v", err)
	}
}

func main() {
	rawURL := flag.String("url", "", "ws:// URL of the GraphQL endpoint (required)")
	count := flag.Int("count", 0, "sockets to open (required)")
	out := flag.String("out", "", "JSON result file (required)")
	tokens := flag.String("tokens", "", "file of 'Bearer <token>' lines: socket i uses line offset + i "+
		"for the upgrade and connection_init")
	offset := flag.Int("offset", 0, "first line of --tokens to use")
	query := flag.String("query", defaultQuery, "the subscription document")
	flag.Parse()
	if *rawURL == "" || *count < 1 || *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	target, err := url.Parse(*rawURL)
	if err != nil || target.Scheme != "ws" || target.Port() == "" {
		fatal("--url %q: want ws://host:port/path", *rawURL)
	}
	raiseFdLimit()
	initClock()
	auths := authorizations(*count, *tokens, *offset)
	t := &tally{total: int64(*count), allPrimed: make(chan struct{}), errors: []string{}}
	var listening sync.WaitGroup
	p := newPoller(t, &listening)
	go p.run()
	conns := openAll(target, auths, *query, p)
	var say lines
	say.say("READY", false)
	go func() {
		<-t.allPrimed
		say.say("PRIMED", false)
	}()
	waitForStop()
	say.stop()
	closeAll(conns, &listening)
	writeResult(*out, conns, t)
	say.say("DONE", true)
}
