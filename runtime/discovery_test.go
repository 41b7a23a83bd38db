package runtime

import (
	"os"
	"testing"
)

func TestListNodesAndServices(t *testing.T) {
	cfg := testConfig(t)
	n1, err := NewNodeBuilder().Name("lister").Config(cfg).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer n1.Close()
	svc := openMsg(t, n1, "listed/one", func(b *PublishSubscribeBuilder[msg]) { b.HistorySize(1).Attribute("k", "v") })
	must[*Publisher[msg]](t)(svc.Publisher())
	must[*Subscriber[msg]](t)(svc.SubscriberBuilder().BufferSize(2).Create())
	openMsg(t, n1, "listed/two", nil)

	nodes, err := ListNodes(cfg)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("ListNodes = %+v, %v", nodes, err)
	}
	if n := nodes[0]; n.ID != n1.ID() || n.State != NodeAlive || n.Details == nil || n.Details.Name != "lister" || n.Details.PID != os.Getpid() {
		t.Fatalf("node %+v (details %+v)", n, n.Details)
	}
	svcs, err := ListServices(cfg)
	if err != nil || len(svcs) != 2 {
		t.Fatalf("ListServices = %+v, %v", svcs, err)
	}
	one := svcs[0]
	if one.Static.Name != "listed/one" || one.Static.Pattern != "publish_subscribe" ||
		one.Static.PublishSubscribe.HistorySize != 1 || len(one.Static.Attributes) != 1 {
		t.Fatalf("service %+v", one.Static)
	}
	if len(one.Nodes) != 1 || len(one.Publishers) != 1 || len(one.Subscribers) != 1 || one.Subscribers[0].BufferSize != 2 {
		t.Fatalf("dynamic details %+v", one)
	}
	if svcs[1].Static.Name != "listed/two" {
		t.Fatalf("second service %q", svcs[1].Static.Name)
	}
}

func TestGroupFileMode(t *testing.T) {
	cfg := testConfig(t)
	cfg.FileMode = 0o660
	node := testNode(t, cfg)
	svc := openMsg(t, node, "group", nil)
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	for _, path := range []string{
		cfg.staticPath(serviceHash("group", PatternPublishSubscribe)),
		cfg.ShmDir + "/" + cfg.dataName(pub.ID()),
		cfg.nodeLockPath(node.ID()),
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o660 {
			t.Errorf("%s has mode %#o, want 0660", path, fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(cfg.nodesDir()); err != nil || fi.Mode().Perm() != 0o770 || fi.Mode()&os.ModeSetgid == 0 {
		t.Errorf("nodes directory mode %v (%v), want group-writable and set-group-ID", fi.Mode(), err)
	}
	cfg2 := testConfig(t)
	node2 := testNode(t, cfg2)
	svc2 := openMsg(t, node2, "private", nil)
	_ = svc2
	fi, err := os.Stat(cfg2.staticPath(serviceHash("private", PatternPublishSubscribe)))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("default mode: %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}
