// The text a command model sees and writes: the sentence, a newline, then the label and a
// newline that ends it. Fine-tuning trains on this layout (the module assembles it for training:
// assembly/text/example.ts) and `commands` generates with it.
export const LABEL_END = "\n";
export const commandPrompt = (sentence: string): string => `${sentence.trim()}\n`;
export const commandText = (sentence: string, label: string): string => `${commandPrompt(sentence)}${label.trim()}${LABEL_END}`;
