package gateway_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"

	"github.com/iox2go/iox2go/gateway"
	iox2 "github.com/iox2go/iox2go/runtime"
)

// A program embeds the gateway of its domain: the gateway's goroutines
// run next to the program's publishers and subscribers, and a sample
// crosses from a publisher to the gateway within the process (no
// doorbell between processes, no other process to wake). Only one
// gateway runs per domain: the domain's `iox2 gateway` must not run too.
func Example_embedded() {
	cfg, _, err := iox2.FindConfig() // IOX2GO_CONFIG, ./iox2go.toml or the defaults
	if err != nil {
		log.Fatal(err)
	}
	gc := gateway.ConfigFrom(cfg) // the [gateway] table
	gc.NATSURL = "nats://127.0.0.1:4222"
	gw, err := gateway.New(cfg, gc)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		if err := gw.Run(ctx); err != nil { // until ctx ends
			log.Print(err)
		}
	}()

	// The program's own node, ports and work, in the same domain.
	node, err := iox2.NewNodeBuilder().Name("app").Config(cfg).Create()
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()
	// ... services, publishers and subscribers as usual ...
	<-ctx.Done()
}
