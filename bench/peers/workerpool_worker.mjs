// The bench task for workerpool: a worker script registering named methods.
import workerpool from "workerpool";

workerpool.worker({ echo: (x) => x });
