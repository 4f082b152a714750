// Command openloop is bench/'s open-loop load generator: it sends GraphQL POSTs at a fixed arrival rate,
// whatever the server's answers do, and measures each request's latency from the moment the schedule
// meant to send it (so a server that falls behind shows its queueing delay: no coordinated omission).
//
// Input: a JSON file (-config) with the URL, the rate, the windows and weighted entries of requests:
//
//	{"url": "...", "rate": 500, "warmup_s": 2, "duration_s": 5, "timeout_s": 10, "max_conns": 256,
//	 "seed": 1, "tag": "s3",
//	 "entries": [{"name": "board", "weight": 30, "once": false,
//	              "items": [{"headers": {"Authorization": "Bearer ..."}, "body": "{...}"}]}]}
//
// Each request picks an entry by weight (seeded RNG, fixed order), then the entry's next item (round
// robin; a "once" entry uses each item at most once and counts an error when it has none left). In a
// body, __SEQ__ becomes "<tag>-<n>" (unique per run) and __UUID__ a random UUID. A response is an error
// unless it is HTTP 200 and its body has no "errors" key (the same rule as bench/lua/post.lua).
//
// Output (-out, JSON): the timed window's percentiles, errors, achieved rate, per-entry figures, and how
// many items of each entry were used (warm-up included). With -check it instead sends every item of
// every non-once entry once, a few at a time, and reports the errors per entry.
//
// Standard library only; built by bench/run into bench/.work/openloop.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	mrand "math/rand"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type Item struct {
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

type Entry struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
	Once   bool    `json:"once"`
	Items  []Item  `json:"items"`

	next atomic.Int64
}

type Config struct {
	URL       string   `json:"url"`
	Rate      float64  `json:"rate"`
	WarmupS   float64  `json:"warmup_s"`
	DurationS float64  `json:"duration_s"`
	TimeoutS  float64  `json:"timeout_s"`
	MaxConns  int      `json:"max_conns"`
	Seed      int64    `json:"seed"`
	Tag       string   `json:"tag"`
	Entries   []*Entry `json:"entries"`
}

// One finished request of the timed window (or of the warm-up, timed=false).
type outcome struct {
	entry     int
	timed     bool
	latency   time.Duration // from the intended send time to the end of the response body
	sendLag   time.Duration // how late the request left against its schedule
	finished  time.Time
	err       string
	timedOut  bool
	overloads bool
}

type EntryResult struct {
	Sent   int     `json:"sent"`
	Errors int     `json:"errors"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	Used   int64   `json:"used"`
}

type Result struct {
	Rate          float64                 `json:"rate"`
	DurationS     float64                 `json:"duration_s"`
	Sent          int                     `json:"sent"`
	Completed     int                     `json:"completed"`
	Errors        int                     `json:"errors"`
	Timeouts      int                     `json:"timeouts"`
	Dropped       int                     `json:"dropped"`
	WarmupErrors  int                     `json:"warmup_errors"`
	P50Ms         float64                 `json:"p50_ms"`
	P90Ms         float64                 `json:"p90_ms"`
	P99Ms         float64                 `json:"p99_ms"`
	MaxMs         float64                 `json:"max_ms"`
	SendLagP99Ms  float64                 `json:"send_lag_p99_ms"`
	AchievedRps   float64                 `json:"achieved_rps"`
	GeneratorCPUS float64                 `json:"generator_cpu_s"`
	ByEntry       map[string]*EntryResult `json:"by_entry"`
	ErrorSamples  []string                `json:"error_samples"`
}

const maxOutstanding = 20000

var seq atomic.Int64

func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

var seqMark, uuidMark = []byte("__SEQ__"), []byte("__UUID__")

func render(body string, tag string) []byte {
	out := []byte(body)
	for bytes.Contains(out, seqMark) {
		out = bytes.Replace(out, seqMark, []byte(tag+"-"+strconv.FormatInt(seq.Add(1), 10)), 1)
	}
	for bytes.Contains(out, uuidMark) {
		out = bytes.Replace(out, uuidMark, []byte(uuid4()), 1)
	}
	return out
}

func newClient(cfg *Config) *http.Client {
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:     cfg.MaxConns,
		MaxIdleConns:        cfg.MaxConns,
		MaxIdleConnsPerHost: cfg.MaxConns,
		IdleConnTimeout:     60 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: transport, Timeout: time.Duration(cfg.TimeoutS * float64(time.Second))}
}

// send posts one item; "" when the answer is HTTP 200 without an "errors" key, else what was wrong.
func send(client *http.Client, url string, item *Item, tag string) (string, bool) {
	req, err := http.NewRequest("POST", url, bytes.NewReader(render(item.Body, tag)))
	if err != nil {
		return err.Error(), false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	for k, v := range item.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		timedOut := false
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			timedOut = true
		}
		return err.Error(), timedOut
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err.Error(), false
	}
	if resp.StatusCode != 200 {
		return fmt.Sprintf("HTTP %d: %.200s", resp.StatusCode, body), false
	}
	if bytes.Contains(body, []byte(`"errors"`)) {
		return fmt.Sprintf("errors: %.300s", body), false
	}
	return "", false
}

// pick returns the entry to send next, by weight.
func picker(cfg *Config) func() int {
	rng := mrand.New(mrand.NewSource(cfg.Seed))
	cumulative := make([]float64, len(cfg.Entries))
	total := 0.0
	for i, e := range cfg.Entries {
		total += e.Weight
		cumulative[i] = total
	}
	return func() int {
		x := rng.Float64() * total
		return sort.SearchFloat64s(cumulative, x)
	}
}

func (e *Entry) take() *Item {
	n := e.next.Add(1) - 1
	if len(e.Items) == 0 || (e.Once && n >= int64(len(e.Items))) {
		return nil
	}
	return &e.Items[n%int64(len(e.Items))]
}

func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q / 100 * float64(len(sorted)))
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i]) / float64(time.Millisecond)
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

func run(cfg *Config) *Result {
	client := newClient(cfg)
	pick := picker(cfg)
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	warmup := time.Duration(cfg.WarmupS * float64(time.Second))
	total := warmup + time.Duration(cfg.DurationS*float64(time.Second))
	outcomes := make(chan outcome, 4096)
	var outstanding atomic.Int64
	var wg sync.WaitGroup

	start := time.Now().Add(50 * time.Millisecond)
	go func() {
		for i := 0; ; i++ {
			intended := start.Add(time.Duration(i) * interval)
			if intended.Sub(start) >= total {
				break
			}
			if wait := time.Until(intended); wait > 0 {
				time.Sleep(wait)
			}
			entry := pick()
			timed := intended.Sub(start) >= warmup
			item := cfg.Entries[entry].take()
			if item == nil {
				outcomes <- outcome{entry: entry, timed: timed, err: "no items left (once entry exhausted)", finished: time.Now()}
				continue
			}
			if outstanding.Load() >= maxOutstanding {
				outcomes <- outcome{entry: entry, timed: timed, err: "dropped: too many requests in flight", overloads: true, finished: time.Now()}
				continue
			}
			outstanding.Add(1)
			wg.Add(1)
			go func(entry int, intended time.Time, timed bool, item *Item) {
				defer wg.Done()
				defer outstanding.Add(-1)
				lag := time.Since(intended)
				problem, timedOut := send(client, cfg.URL, item, cfg.Tag)
				now := time.Now()
				outcomes <- outcome{entry: entry, timed: timed, latency: now.Sub(intended), sendLag: lag, finished: now,
					err: problem, timedOut: timedOut}
			}(entry, intended, timed, item)
		}
		wg.Wait()
		close(outcomes)
	}()

	res := &Result{Rate: cfg.Rate, DurationS: cfg.DurationS, ByEntry: map[string]*EntryResult{}}
	var latencies, lags []time.Duration
	perEntry := make([][]time.Duration, len(cfg.Entries))
	for _, e := range cfg.Entries {
		res.ByEntry[e.Name] = &EntryResult{}
	}
	windowStart := start.Add(warmup)
	last := windowStart
	ok := 0
	for o := range outcomes {
		name := cfg.Entries[o.entry].Name
		if !o.timed {
			if o.err != "" {
				res.WarmupErrors++
			}
			continue
		}
		res.Sent++
		res.ByEntry[name].Sent++
		if o.err != "" {
			res.Errors++
			res.ByEntry[name].Errors++
			if o.timedOut {
				res.Timeouts++
			}
			if o.overloads {
				res.Dropped++
			}
			if len(res.ErrorSamples) < 5 {
				res.ErrorSamples = append(res.ErrorSamples, name+": "+o.err)
			}
			continue
		}
		ok++
		res.Completed++
		latencies = append(latencies, o.latency)
		lags = append(lags, o.sendLag)
		perEntry[o.entry] = append(perEntry[o.entry], o.latency)
		if o.finished.After(last) {
			last = o.finished
		}
	}
	sortDurations(latencies)
	sortDurations(lags)
	res.P50Ms, res.P90Ms, res.P99Ms = percentile(latencies, 50), percentile(latencies, 90), percentile(latencies, 99)
	res.MaxMs = percentile(latencies, 100)
	res.SendLagP99Ms = percentile(lags, 99)
	span := last.Sub(windowStart).Seconds()
	if span < cfg.DurationS {
		span = cfg.DurationS
	}
	res.AchievedRps = float64(ok) / span
	for i, e := range cfg.Entries {
		sortDurations(perEntry[i])
		r := res.ByEntry[e.Name]
		r.P50Ms, r.P99Ms = percentile(perEntry[i], 50), percentile(perEntry[i], 99)
		r.Used = e.next.Load()
		if e.Once && r.Used > int64(len(e.Items)) {
			r.Used = int64(len(e.Items))
		}
	}
	return res
}

type CheckResult struct {
	Checked int            `json:"checked"`
	Errors  map[string]int `json:"errors"`
	Samples []string       `json:"samples"`
}

// check sends every item of every non-once entry once (8 at a time).
func check(cfg *Config) *CheckResult {
	client := newClient(cfg)
	res := &CheckResult{Errors: map[string]int{}}
	var mu sync.Mutex
	gate := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, e := range cfg.Entries {
		if e.Once {
			continue
		}
		for i := range e.Items {
			wg.Add(1)
			gate <- struct{}{}
			go func(name string, item *Item) {
				defer wg.Done()
				defer func() { <-gate }()
				problem, _ := send(client, cfg.URL, item, cfg.Tag+"check")
				mu.Lock()
				defer mu.Unlock()
				res.Checked++
				if problem != "" {
					res.Errors[name]++
					if len(res.Samples) < 5 {
						res.Samples = append(res.Samples, name+": "+problem)
					}
				}
			}(e.Name, &e.Items[i])
		}
	}
	wg.Wait()
	return res
}

func cpuSeconds() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return float64(usage.Utime.Nano()+usage.Stime.Nano()) / 1e9
}

func main() {
	configPath := flag.String("config", "", "JSON file with the URL, rate, windows and entries")
	outPath := flag.String("out", "", "where to write the JSON result (default stdout)")
	rate := flag.Float64("rate", 0, "override the config's arrival rate (requests per second)")
	checkOnly := flag.Bool("check", false, "send every item of every non-once entry once and report errors")
	flag.Parse()
	raw, err := os.ReadFile(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(2)
	}
	cfg := &Config{TimeoutS: 10, MaxConns: 256, Seed: 1}
	if err := json.Unmarshal(raw, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "openloop: bad config:", err)
		os.Exit(2)
	}
	if *rate > 0 {
		cfg.Rate = *rate
	}
	var result any
	if *checkOnly {
		result = check(cfg)
	} else {
		if cfg.Rate <= 0 || cfg.DurationS <= 0 || len(cfg.Entries) == 0 {
			fmt.Fprintln(os.Stderr, "openloop: need rate > 0, duration_s > 0 and entries")
			os.Exit(2)
		}
		r := run(cfg)
		r.GeneratorCPUS = cpuSeconds()
		result = r
	}
	out, _ := json.MarshalIndent(result, "", " ")
	if *outPath == "" {
		os.Stdout.Write(append(out, '\n'))
		return
	}
	if err := os.WriteFile(*outPath, out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(1)
	}
}
