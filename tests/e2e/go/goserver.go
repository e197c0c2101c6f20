// SPDX-License-Identifier: MIT
// A Go HTTPS server for tlstrace's tests: net/http over crypto/tls, HTTP/2
// and HTTP/1.1 (ALPN), on 127.0.0.1. The routes are server.py's: /hello,
// /delay/MS, /size/N, else 404. Its port is written to -ready-file once it
// listens; /metrics is a Prometheus target.
package main

import (
	"bytes"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func route(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	send := func(status int, body []byte) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		w.Write(body)
	}
	if len(parts) == 1 && parts[0] == "hello" {
		send(200, []byte("hello\n"))
		return
	}
	if len(parts) == 1 && parts[0] == "metrics" { // a target for Prometheus to scrape
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		send(200, []byte("tlstrace_test_up 1\n"))
		return
	}
	if len(parts) == 2 {
		n, err := strconv.Atoi(parts[1])
		if err == nil && n >= 0 && n <= 64<<20 {
			switch parts[0] {
			case "delay":
				time.Sleep(time.Duration(n) * time.Millisecond)
				send(200, []byte("delayed\n"))
				return
			case "size":
				send(200, bytes.Repeat([]byte("x"), n))
				return
			}
		}
	}
	send(404, []byte("not found\n"))
}

func main() {
	cert := flag.String("cert", "", "PEM certificate")
	key := flag.String("key", "", "PEM key")
	port := flag.Int("port", 0, "port (0: a free one)")
	ready := flag.String("ready-file", "", "write the port here once listening")
	h1 := flag.Bool("http1", false, "HTTP/1.1 only")
	flag.Parse()

	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goserver:", err)
		os.Exit(1)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: []string{"h2", "http/1.1"}}
	srv := &http.Server{Handler: http.HandlerFunc(route), TLSConfig: cfg}
	if *h1 {
		cfg.NextProtos = []string{"http/1.1"}
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "goserver:", err)
		os.Exit(1)
	}
	if *ready != "" {
		p := ln.Addr().(*net.TCPAddr).Port
		os.WriteFile(*ready+".tmp", []byte(strconv.Itoa(p)), 0o644)
		os.Rename(*ready+".tmp", *ready)
	}
	err = srv.ServeTLS(ln, "", "")
	fmt.Fprintln(os.Stderr, "goserver:", err)
	os.Exit(1)
}
