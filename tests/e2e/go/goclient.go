// SPDX-License-Identifier: MIT
// A Go HTTPS client for tlstrace's tests: net/http fetches each URL given, in
// order (or -parallel at once), and prints one line per fetch: status, body
// bytes and the protocol spoken. Certificates are not checked (-insecure) or
// checked against -ca.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// deep calls f from depth frames down, each with a frame of its own
func deep(depth int, f func()) int {
	var pad [256]byte
	pad[depth%256] = byte(depth)
	if depth > 0 {
		return deep(depth-1, f) + int(pad[depth%256])
	}
	f()
	return 0
}

// readBody counts the body's bytes, read into a buffer on the stack; with
// garbage, each read also leaves some behind
func readBody(r io.Reader, garbage bool) (int64, error) {
	var buf [4096]byte
	var n int64
	for {
		m, err := r.Read(buf[:])
		n += int64(m)
		if garbage {
			sink = make([]byte, 16384)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

var sink []byte

func main() {
	insecure := flag.Bool("insecure", false, "do not check the server's certificate")
	ca := flag.String("ca", "", "a PEM file of the CA to trust")
	h1 := flag.Bool("http1", false, "HTTP/1.1 only (no h2 in ALPN)")
	parallel := flag.Int("parallel", 1, "fetches at once")
	repeat := flag.Int("repeat", 1, "fetch the list this many times")
	quiet := flag.Bool("quiet", false, "print only a count at the end")
	stress := flag.Bool("stress", false, "grow each fetch's stack and make garbage as it goes")
	sleep := flag.Int("sleep", 0, "milliseconds to wait before the first fetch")
	flag.Parse()

	cfg := &tls.Config{InsecureSkipVerify: *insecure}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			fmt.Fprintln(os.Stderr, "goclient:", err)
			os.Exit(1)
		}
		cfg.RootCAs = x509.NewCertPool()
		cfg.RootCAs.AppendCertsFromPEM(pem)
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: !*h1, MaxIdleConnsPerHost: 64}
	if *h1 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	client := &http.Client{Transport: tr}

	time.Sleep(time.Duration(*sleep) * time.Millisecond)
	var urls []string
	for i := 0; i < *repeat; i++ {
		urls = append(urls, flag.Args()...)
	}
	if *stress {
		debug.SetGCPercent(10) // collect often
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, *parallel)
	failed, done := 0, 0
	for _, u := range urls {
		wg.Add(1)
		sem <- struct{}{}
		go func(u string) {
			defer wg.Done()
			defer func() { <-sem }()
			var resp *http.Response
			var n int64
			var err error
			fetch := func() {
				resp, err = client.Get(u)
				if err == nil {
					n, err = readBody(resp.Body, *stress)
					resp.Body.Close()
				}
			}
			if *stress {
				deep(len(u)*8, fetch) // the goroutine's stack grows, and is moved
			} else {
				fetch()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				fmt.Fprintln(os.Stderr, "goclient:", u, err)
				return
			}
			done++
			if !*quiet {
				fmt.Printf("%s %d %d %s\n", u, resp.StatusCode, n, resp.Proto)
			}
		}(u)
		if *parallel == 1 {
			wg.Wait()
		}
	}
	wg.Wait()
	if *quiet {
		fmt.Printf("%d done, %d failed\n", done, failed)
	}
	if failed > 0 {
		os.Exit(1)
	}
}
