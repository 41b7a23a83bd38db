// Command client is the request-response example of iceoryx2's README, in
// Go: every cycle it sends a request (1234 first, then 123) and prints the
// responses that the servers send to it as they arrive, until the servers
// end the stream or the cycle is over; until it is interrupted (or has sent
// -n requests).
//
// Run it next to examples/request_response/server, in any order (a request
// sent while no server runs reaches nobody).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/iox2go/iox2go/examples/gen/reqres"
	iox2 "github.com/iox2go/iox2go/runtime"
)

func main() {
	n := flag.Int("n", 0, "stop after sending this many requests (0: run until interrupted)")
	cycle := flag.Duration("cycle", time.Second, "time between two requests, and the longest wait for responses")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("client: ")

	// Ctrl-C (SIGINT) and SIGTERM end ctx, and with it the blocking
	// receives below, so that the loop ends and node.Close removes the
	// node's files. (The node itself leaves the signals alone.)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	node, err := iox2.NewNodeBuilder().Name("client").Create()
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	// The service of examples/idl/request_response.idl: a number each way,
	// as iceoryx2's request_response::<u64, u64>().
	service, err := reqres.OpenOrCreateMyFunkServiceName(node)
	if err != nil {
		log.Fatal(err)
	}
	client, err := reqres.MyFunkServiceNameClient(service).Create()
	if err != nil {
		log.Fatal(err)
	}

	value := uint64(1234)
	for sent := 0; (*n == 0 || sent < *n) && ctx.Err() == nil; sent++ {
		request, err := client.LoanUninit()
		if err != nil {
			log.Fatal(err)
		}
		*request.Payload() = reqres.Number{Value: value}
		pending, err := request.Send() // to every server
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("send request %d to %d server(s)\n", value, pending.NumberOfServerConnections())
		value = 123

		// The responses to this request, as they arrive, for one cycle at
		// most; the loop ends early when the servers end the stream.
		reqCtx, cancel := context.WithTimeout(ctx, *cycle)
		for response, err := range pending.Responses(reqCtx) {
			if err != nil {
				if reqCtx.Err() != nil {
					break // the cycle is over, or SIGINT or SIGTERM
				}
				log.Fatal(err)
			}
			fmt.Printf("  received response: %d\n", response.Payload().Value)
		}
		// closing the pending response tells the servers that we lost
		// interest in it
		pending.Close()
		<-reqCtx.Done() // the rest of the cycle
		cancel()
	}
	fmt.Println("exit")
}
