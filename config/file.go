package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// readSecretFile reads a secret from a file, as container secrets are mounted. The error
// names the problem, never the content.
func readSecretFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("file %s does not exist", path)
		}
		return "", fmt.Errorf("cannot read %s", path)
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		return "", fmt.Errorf("file %s is empty", path)
	}
	return s, nil
}
