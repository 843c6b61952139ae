"""The cluster twin: Kubernetes API, controllers and workload model on a virtual clock."""
