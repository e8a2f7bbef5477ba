// Command okserver answers "ok" to every request over fasthttp: the fixed
// loopback target on which perflab's throughput is compared with other
// load generators (see compare.sh).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8089", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "okserver on http://%s/\n", ln.Addr())
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.WriteString("ok") }}
	log.Fatal(srv.Serve(ln))
}
