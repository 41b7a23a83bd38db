// Command client is the request-response example of iceoryx2's README, in
// Go: it sends the request 1234, then, every cycle, prints the responses
// that the servers sent to its latest request and sends the request 123,
// until it is interrupted (or has sent -n requests).
//
// Run it next to examples/request_response/server, in any order (a request
// sent while no server runs reaches nobody).
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
	n := flag.Int("n", 0, "stop after sending this many requests (0: run until interrupted)")
	cycle := flag.Duration("cycle", time.Second, "time between two requests")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("client: ")

	// SignalHandling(true): Ctrl-C (SIGINT) and SIGTERM end the waits with
	// an error instead of killing the program, so that the loop below ends
	// and node.Close removes the node's files.
	node, err := iox2.NewNodeBuilder().Name("client").SignalHandling(true).Create()
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

	// send first request
	request, err := client.LoanUninit()
	if err != nil {
		log.Fatal(err)
	}
	*request.Payload() = reqres.Number{Value: 1234}
	pending, err := request.Send()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("send request 1234 to %d server(s)\n", pending.NumberOfServerConnections())

	for sent := 1; node.Wait(*cycle) == nil; sent++ {
		// acquire all responses to our request from our buffer that were sent by the servers
		for {
			response, err := pending.Receive()
			if err != nil {
				log.Fatal(err)
			}
			if response == nil {
				break
			}
			fmt.Printf("  received response: %d\n", response.Payload().Value)
			response.Release()
		}
		if *n > 0 && sent >= *n {
			break
		}

		// send another request; closing the previous pending response
		// tells the servers that we lost interest in it
		pending.Close()
		request, err := client.LoanUninit()
		if err != nil {
			log.Fatal(err)
		}
		*request.Payload() = reqres.Number{Value: 123}
		if pending, err = request.Send(); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("send request 123 to %d server(s)\n", pending.NumberOfServerConnections())
	}
	pending.Close()
	fmt.Println("exit")
}
