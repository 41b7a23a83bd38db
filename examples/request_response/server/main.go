// Command server is the request-response example of iceoryx2's README, in
// Go: every cycle it answers each request received on
// "My/Funk/ServiceName" with the response 456, written in place in shared
// memory, until it is interrupted (or has answered -n requests).
//
// Run it next to examples/request_response/client, in any order.
package main

import (
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/iox2go/iox2go/examples/gen/reqres"
	iox2 "github.com/iox2go/iox2go/runtime"
)

func main() {
	n := flag.Int("n", 0, "stop after answering this many requests (0: run until interrupted)")
	cycle := flag.Duration("cycle", 100*time.Millisecond, "time between two looks for new requests")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("server: ")

	// SignalHandling(true): Ctrl-C (SIGINT) and SIGTERM end the waits with
	// an error instead of killing the program, so that the loop below ends
	// and node.Close removes the node's files.
	node, err := iox2.NewNodeBuilder().Name("server").SignalHandling(true).Create()
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
	for (*n == 0 || answered < *n) && node.Wait(*cycle) == nil {
		for *n == 0 || answered < *n {
			activeRequest, err := server.Receive()
			if err != nil {
				log.Fatal(err)
			}
			if activeRequest == nil {
				break
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
			// closing the active request ends the response stream
			activeRequest.Close()
			answered++
		}
	}
	fmt.Println("exit")
}
