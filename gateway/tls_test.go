package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	mbig "math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// tlsFiles are the PEM files of a test PKI: a CA, a server certificate
// for 127.0.0.1 and a client certificate, both signed by the CA.
type tlsFiles struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

// newPKI generates the test PKI into dir.
func newPKI(t *testing.T, dir string) tlsFiles {
	t.Helper()
	f := tlsFiles{
		ca:         filepath.Join(dir, "ca.pem"),
		serverCert: filepath.Join(dir, "server.pem"), serverKey: filepath.Join(dir, "server-key.pem"),
		clientCert: filepath.Join(dir, "client.pem"), clientKey: filepath.Join(dir, "client-key.pem"),
	}
	now := time.Now()
	caKey := genKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: mbig.NewInt(1), Subject: pkix.Name{CommonName: "iox2go test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER := must[[]byte](t)(x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey))
	caCert := must[*x509.Certificate](t)(x509.ParseCertificate(caDER))
	writePEM(t, f.ca, "CERTIFICATE", caDER)

	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP, certFile, keyFile string) {
		key := genKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: mbig.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der := must[[]byte](t)(x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey))
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "PRIVATE KEY", must[[]byte](t)(x509.MarshalPKCS8PrivateKey(key)))
	}
	leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)}, f.serverCert, f.serverKey)
	leaf(3, "iox2go test gateway", x509.ExtKeyUsageClientAuth, nil, f.clientCert, f.clientKey)
	return f
}

func genKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	return must[*ecdsa.PrivateKey](t)(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runGatewayErr runs a gateway for a domain of its own with mod applied
// and returns Run's error; a Run still going after d is an error too.
func runGatewayErr(t *testing.T, host, url string, d time.Duration, mod func(*Config)) error {
	t.Helper()
	gc := Config{NATSURL: url, Namespace: "t", Logf: t.Logf}
	mod(&gc)
	g, err := New(domain(t, host), gc)
	if err != nil {
		t.Fatalf("New: %v (the files are read when the gateway connects)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err = g.Run(ctx)
	if ctx.Err() != nil {
		return fmt.Errorf("Run went on for %v without an error (then returned %v)", d, err)
	}
	return err
}

// TestTLS: an embedded NATS server that requires TLS and verifies client
// certificates. Two gateways with the CA, a client certificate and a
// tls:// URL carry a sample with its exact value; a gateway without a
// client certificate is refused and says so; a missing CA, certificate or
// credentials file makes Run fail with an error naming the file.
func TestTLS(t *testing.T) {
	pki := newPKI(t, t.TempDir())
	tlsc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: pki.serverCert, KeyFile: pki.serverKey, CaFile: pki.ca, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	ns := startNATSWith(t, &server.Options{TLS: true, TLSVerify: true, TLSConfig: tlsc, TLSTimeout: 2})
	url := ns.ClientURL()
	if !strings.HasPrefix(url, "tls://127.0.0.1:") {
		t.Fatalf("server URL %q, want tls://127.0.0.1:…", url)
	}
	withPKI := func(c *Config) { c.TLSCA, c.TLSCert, c.TLSKey = pki.ca, pki.clientCert, pki.clientKey }

	t.Run("crosses", func(t *testing.T) {
		a, b := domain(t, "a"), domain(t, "b")
		ga := runGateway(t, a, url, withPKI)
		gb := runGateway(t, b, url, withPKI)
		ea, eb := psPorts(t, a), psPorts(t, b)
		eventually(t, "both bridges", func() bool {
			return bridged(ga.Gateway, psName, psPattern, 1) && bridged(gb.Gateway, psName, psPattern, 1)
		})
		for _, g := range []*testGW{ga, gb} {
			if st := g.Status().NATS; !st.Connected || st.Server != url {
				t.Errorf("NATS status %+v, want connected to %s", st, url)
			}
		}
		want := reading{Seq: 42, Value: [3]int32{-7, 0x7fffffff, -0x80000000}, Tail: 0xdeadbeef}
		send(t, ea.pub, want, "A")
		got, origins := receiveAll(t, eb.sub, 300*time.Millisecond)
		if len(got) != 1 || got[0] != want || origins[0] != "A" {
			t.Fatalf("b got %+v from %q, want %+v from A", got, origins, want)
		}
		// A's subscriber has the sample from its own publisher, once:
		// nothing came back through the gateways.
		if mine, _ := receiveAll(t, ea.sub, 50*time.Millisecond); len(mine) != 1 || mine[0] != want {
			t.Errorf("a got %+v, want its own sample once", mine)
		}
	})

	t.Run("no client certificate", func(t *testing.T) {
		// The server refuses the handshake; the gateway keeps trying (the
		// certificate may come) and logs why, once.
		g := runGateway(t, domain(t, "c"), url, func(c *Config) { c.TLSCA = pki.ca })
		refusal := func() (n int, line string) {
			g.log.mu.Lock()
			defer g.log.mu.Unlock()
			for _, l := range g.log.lines {
				if strings.Contains(l, "cannot connect to NATS "+url+": ") && strings.Contains(l, "tls: certificate required") {
					n, line = n+1, l
				}
			}
			return n, line
		}
		eventually(t, "the refusal logged", func() bool { n, _ := refusal(); return n > 0 })
		time.Sleep(3 * reconnectWait) // more attempts, refused alike
		st := g.Status().NATS
		if st.Connected || st.State != "RECONNECTING" {
			t.Errorf("NATS status %+v, want not connected, reconnecting", st)
		}
		// The last attempt's error is the server's refusal ("remote error:
		// tls: certificate required") or, when the server closed first,
		// the write that found the connection gone ("tls error: ...
		// broken pipe"): either way a TLS error.
		if !strings.Contains(strings.ToLower(st.LastError), "tls") {
			t.Errorf("status says the last attempt failed with %q, want a TLS error", st.LastError)
		}
		g.stop()
		if g.err != nil {
			t.Errorf("Run: %v", g.err)
		}
		n, line := refusal()
		if n != 1 {
			t.Errorf("the refusal logged %d times, want once: %q", n, g.log.lines)
		}
		t.Logf("logged: %s", line)
	})

	t.Run("missing files", func(t *testing.T) {
		dir := t.TempDir()
		nope := func(name string) string { return filepath.Join(dir, name) }
		for _, tc := range []struct {
			name, file string
			mod        func(*Config, string)
		}{
			{"tls-ca", nope("no-ca.pem"), func(c *Config, f string) { withPKI(c); c.TLSCA = f }},
			{"tls-cert", nope("no-client.pem"), func(c *Config, f string) { withPKI(c); c.TLSCert = f }},
			{"tls-key", nope("no-client-key.pem"), func(c *Config, f string) { withPKI(c); c.TLSKey = f }},
			{"creds", nope("no.creds"), func(c *Config, f string) { withPKI(c); c.Creds = f }},
		} {
			err := runGatewayErr(t, "d", url, 5*time.Second, func(c *Config) { tc.mod(c, tc.file) })
			if err == nil || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("missing %s file: Run returned %v, want an error naming %s", tc.name, err, tc.file)
			} else {
				t.Logf("missing %s file: %v", tc.name, err)
			}
		}
	})
}
