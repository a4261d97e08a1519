// One line of a training run's history: what the trainer logs, checkpoints keep, and curves plot.
export interface LogEntry { step: number; loss: number; ce: number; kd: number; hidden: number; lr: number; tokensPerSecond: number }
