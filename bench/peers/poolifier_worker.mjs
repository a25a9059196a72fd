// The bench task for poolifier: a ThreadWorker wrapping the task.
import { ThreadWorker } from "poolifier";

export default new ThreadWorker((x) => x);
