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
	"sync"
)

func main() {
	insecure := flag.Bool("insecure", false, "do not check the server's certificate")
	ca := flag.String("ca", "", "a PEM file of the CA to trust")
	h1 := flag.Bool("http1", false, "HTTP/1.1 only (no h2 in ALPN)")
	parallel := flag.Int("parallel", 1, "fetches at once")
	repeat := flag.Int("repeat", 1, "fetch the list this many times")
	quiet := flag.Bool("quiet", false, "print only a count at the end")
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

	var urls []string
	for i := 0; i < *repeat; i++ {
		urls = append(urls, flag.Args()...)
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
			resp, err := client.Get(u)
			var n int64
			if err == nil {
				n, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
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
