// Command server is the request-response example of iceoryx2's README, in
// Go: it answers each request received on "My/Funk/ServiceName" with the
// response 456, written in place in shared memory, as soon as the request
// arrives, until it is interrupted (or has answered -n requests). It
// blocks while no request comes: no polling, no CPU.
//
// Run it next to examples/request_response/client, in any order.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/iox2go/iox2go/examples/gen/reqres"
	iox2 "github.com/iox2go/iox2go/runtime"
)

func main() {
	n := flag.Int("n", 0, "stop after answering this many requests (0: run until interrupted)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("server: ")

	// Ctrl-C (SIGINT) and SIGTERM end ctx, and with it the blocking
	// receives below, so that the loop ends and node.Close removes the
	// node's files. (The node itself leaves the signals alone.)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	node, err := iox2.NewNodeBuilder().Name("server").Create()
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	service, err := reqres.OpenOrCreateMyFunkServiceName(node) // examples/idl/request_response.idl
	if err != nil {
		log.Fatal(err)
	}
	server, err := reqres.MyFunkServiceNameServer(service).Create()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("server ready to receive requests!")

	answered := 0
	// Each iteration waits for the next request; the active request is
	// closed when the loop body returns, which ends its response stream.
	for activeRequest, err := range server.Requests(ctx) {
		if err != nil {
			if ctx.Err() != nil {
				break // SIGINT or SIGTERM
			}
			log.Fatal(err)
		}
		fmt.Printf("received request: %d\n", activeRequest.Payload().Value)
		response, err := activeRequest.LoanUninit()
		if err != nil {
			log.Fatal(err)
		}
		*response.Payload() = reqres.Number{Value: 456}
		if err := response.Send(); err != nil {
			log.Fatal(err)
		}
		answered++
		if *n > 0 && answered >= *n {
			break
		}
	}
	fmt.Println("exit")
}
