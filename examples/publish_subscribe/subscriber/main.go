// Command subscriber is the publish-subscribe example of iceoryx2's README,
// in Go: it prints every TransmissionData sample published on
// "My/Funk/ServiceName", reading it in place in shared memory, until it is
// interrupted (or has received -n samples). It blocks while nothing
// arrives: no polling, no CPU.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/iox2go/iox2go/examples/gen/transmission"
	iox2 "github.com/iox2go/iox2go/runtime"
)

func main() {
	n := flag.Int("n", 0, "stop after receiving this many samples (0: run until interrupted)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("subscriber: ")

	// Ctrl-C (SIGINT) and SIGTERM end ctx, and with it the blocking
	// receives below, so that the loop ends and node.Close removes the
	// node's files. (The node itself leaves the signals alone.)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	node, err := iox2.NewNodeBuilder().Name("subscriber").Create()
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	service, err := transmission.OpenOrCreateMyFunkServiceName(node)
	if err != nil {
		log.Fatal(err)
	}
	subscriber, err := service.Subscriber()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subscriber ready to receive data!")

	received := 0
	// Each iteration waits for the next sample; the sample is released
	// when the loop body returns (call sample.Keep() to keep it longer).
	for sample, err := range subscriber.Samples(ctx) {
		if err != nil {
			if ctx.Err() != nil {
				break // SIGINT or SIGTERM
			}
			log.Fatal(err)
		}
		d := sample.Payload()
		fmt.Printf("received: TransmissionData { x: %d, y: %d, funky: %.2f }\n", d.X, d.Y, d.Funky)
		received++
		if *n > 0 && received >= *n {
			break
		}
	}
	fmt.Println("exit")
}
