// SPDX-License-Identifier: MIT
// golat: the latency of Go's net/http requests, for bench/run.py. NEW
// requests each on a new connection (dial, handshake, request, response,
// close), then KA requests on one kept-alive connection, to
// https://localhost:PORT/hello, each timed start to last byte. Prints
// {"new": [us, ...], "ka": [us, ...], "cpu_us": {...}} on one line.
//
// usage: golat PORT NEW KA
package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"
)

func cpuUs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e3
}

func fetch(c *http.Client, url string) float64 {
	t0 := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "golat:", err)
		os.Exit(1)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return float64(time.Since(t0).Nanoseconds()) / 1e3
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: golat PORT NEW KA")
		os.Exit(2)
	}
	port := os.Args[1]
	nnew, _ := strconv.Atoi(os.Args[2])
	nka, _ := strconv.Atoi(os.Args[3])
	url := "https://localhost:" + port + "/hello"
	cfg := &tls.Config{InsecureSkipVerify: true}
	out := map[string]interface{}{}
	cpu := map[string]float64{}

	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	var samples []float64
	c0 := cpuUs()
	for i := 0; i < nnew; i++ {
		samples = append(samples, fetch(fresh, url))
	}
	cpu["new"] = (cpuUs() - c0) / float64(nnew)
	out["new"] = samples

	kept := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	fetch(kept, url) // the connection
	samples = nil
	c0 = cpuUs()
	for i := 0; i < nka; i++ {
		samples = append(samples, fetch(kept, url))
	}
	cpu["ka"] = (cpuUs() - c0) / float64(nka)
	out["ka"] = samples
	out["cpu_us"] = cpu
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
