// SPDX-License-Identifier: MIT
// bracket: the Go twin of bracket_client.c. One connection by crypto/tls,
// NREQ HTTP/1.1 requests on it, every call bracketed by CLOCK_REALTIME just
// before and after it, with the time the thread waited for a CPU meanwhile
// (run_delay of /proc/thread-self/schedstat). Printed as bracket_client
// prints them: "name":[before,after,waited], in ms.
//
// usage: bracket HOST PORT PATH [NREQ]
// With BRACKET_IMPLICIT=1 in the environment, Handshake is not called: the
// first Write drives the handshake, and its bracket is the handshake's too.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type bracket struct{ before, after, waited, delay0 float64 }

func nowMs() float64 { return float64(time.Now().UnixNano()) / 1e6 }

// the thread's total wait on a run queue, ms; 0 where the kernel does not say
func runDelayMs() float64 {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	d, _ := strconv.ParseFloat(f[1], 64)
	return d / 1e6
}

func (b *bracket) open()  { b.delay0 = runDelayMs(); b.before = nowMs() }
func (b *bracket) close() { b.after = nowMs(); b.waited = runDelayMs() - b.delay0 }
func (b bracket) String() string {
	return fmt.Sprintf("[%.3f,%.3f,%.3f]", b.before, b.after, b.waited)
}

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "bracket: "+format+"\n", a...)
	os.Exit(1)
}

type reqTimes struct{ write, firstRead, lastRead bracket }

func main() {
	// one thread for the whole run: the brackets' waits are its own
	runtime.LockOSThread()
	if len(os.Args) < 4 || len(os.Args) > 5 {
		fmt.Fprintln(os.Stderr, "usage: bracket HOST PORT PATH [NREQ]")
		os.Exit(2)
	}
	host, port, path := os.Args[1], os.Args[2], os.Args[3]
	nreq := 1
	if len(os.Args) == 5 {
		nreq, _ = strconv.Atoi(os.Args[4])
	}
	if nreq < 1 || nreq > 64 {
		die("bad request count: %s", os.Args[4])
	}

	var lookup, conn, hs bracket
	addr := host
	if net.ParseIP(host) == nil {
		lookup.open()
		ips, err := net.DefaultResolver.LookupIPAddr(context.Background(), host)
		lookup.close()
		if err != nil || len(ips) == 0 {
			die("resolve %s: %v", host, err)
		}
		addr = ips[0].IP.String()
		for _, ip := range ips {
			if ip.IP.To4() != nil {
				addr = ip.IP.String()
				break
			}
		}
	}
	conn.open()
	c, err := net.Dial("tcp", net.JoinHostPort(addr, port))
	conn.close()
	if err != nil {
		die("connect to %s:%s: %v", host, port, err)
	}
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost",
		NextProtos: []string{"http/1.1"}})
	// BRACKET_IMPLICIT=1: no Handshake call; the first Write drives it
	implicit := os.Getenv("BRACKET_IMPLICIT") == "1"
	if !implicit {
		hs.open()
		err = tc.Handshake()
		hs.close()
		if err != nil {
			die("TLS handshake failed: %v", err)
		}
	}

	req := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: localhost:%s\r\nUser-Agent: bracket\r\n\r\n",
		path, port))
	reqs := make([]reqTimes, nreq)
	var rbuf []byte
	buf := make([]byte, 16384)
	var last bracket
	read := func() {
		var b bracket
		b.open()
		n, err := tc.Read(buf)
		b.close()
		if n <= 0 {
			die("read: %v", err)
		}
		rbuf = append(rbuf, buf[:n]...)
		last = b
	}
	for i := range reqs {
		rt := &reqs[i]
		rt.write.open()
		n, err := tc.Write(req)
		rt.write.close()
		if err != nil || n != len(req) {
			die("write: %v", err)
		}
		if implicit && i == 0 {
			hs = rt.write // the handshake ran inside it
		}
		if len(rbuf) == 0 {
			read()
		}
		rt.firstRead = last
		for bytes.Index(rbuf, []byte("\r\n\r\n")) < 0 {
			read()
		}
		hlen := bytes.Index(rbuf, []byte("\r\n\r\n")) + 4
		clen := -1
		for _, line := range strings.Split(string(rbuf[:hlen]), "\r\n") {
			if strings.HasPrefix(strings.ToLower(line), "content-length:") {
				clen, _ = strconv.Atoi(strings.TrimSpace(line[15:]))
			}
		}
		if clen < 0 {
			die("no Content-Length")
		}
		for len(rbuf) < hlen+clen {
			read()
		}
		rbuf = rbuf[hlen+clen:]
		rt.lastRead = last
	}
	tc.Close()

	var out strings.Builder
	fmt.Fprintf(&out, "{\"pid\":%d,", os.Getpid())
	if lookup.before != 0 {
		fmt.Fprintf(&out, "\"lookup\":%s,", lookup)
	}
	fmt.Fprintf(&out, "\"connect\":%s,\"handshake\":%s,\"requests\":[", conn, hs)
	for i, rt := range reqs {
		if i > 0 {
			out.WriteString(",")
		}
		fmt.Fprintf(&out, "{\"write\":%s,\"firstRead\":%s,\"lastRead\":%s}",
			rt.write, rt.firstRead, rt.lastRead)
	}
	out.WriteString("]}\n")
	os.Stdout.WriteString(out.String())
}
