package main

// TEMPORARY: these stand in for runtime's ConfigFromFile, FindConfig,
// ConfigEnv and ConfigSearchPaths until the configuration file lands in the
// runtime; then they call it.

import (
	"fmt"

	iox2 "github.com/iox2go/iox2go/runtime"
)

const configEnv = "IOX2GO_CONFIG"

func configSearchPaths() []string {
	return []string{"$PWD/config/iox2go.toml", "~/.config/iox2go/iox2go.toml", "/etc/iox2go/iox2go.toml"}
}

func configFromFile(path string) (*iox2.Config, error) {
	return nil, fmt.Errorf("%s: configuration files are not supported yet", path)
}

func findConfig() (*iox2.Config, string, error) { return iox2.DefaultConfig(), "", nil }
