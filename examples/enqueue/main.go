// Command enqueue enqueues a kickq job and waits for its result: go run ./examples/enqueue default email '{"to": "a@b.c"}'
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"kickq.dev/kickq/pkg/kickq"
)

func main() {
	c, err := kickq.NewClient(ctrl.GetConfigOrDie()) // $KUBECONFIG, ~/.kube/config or in-cluster
	if err != nil || len(os.Args) != 4 {
		log.Fatal("usage: enqueue NAMESPACE TYPE DATA; ", err)
	}
	job, err := c.Enqueue(context.Background(), kickq.Job{Namespace: os.Args[1], Type: os.Args[2], Data: json.RawMessage(os.Args[3])})
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.Wait(context.Background(), job.Namespace, job.Name) // for a Failed job: a *kickq.FailedError with its reason
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s after %d attempt(s), result %s\n", job.Name, res.Phase, res.Attempts, res.Result)
}
