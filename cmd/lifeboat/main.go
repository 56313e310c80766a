// Command lifeboat backs up and restores a web application's estate.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"lifeboat/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.NewApp().Run(ctx, os.Args[1:])
	stop()

	if err != nil {
		fmt.Fprintf(os.Stderr, "lifeboat: %v\n", err)
	}

	os.Exit(cli.ExitCode(err))
}
