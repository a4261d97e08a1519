// A few hand-written home commands in the data's format (SENTENCE<TAB>LABEL), for tests that
// train or decode in seconds; the shared data set is for the slow runs and the measurements.
export const COMMAND_LINES = [
  "turn off the porch light\tHassTurnOff ; name=porch light",
  "switch on the kitchen lights\tHassTurnOn ; area=kitchen ; domain=light",
  "set the bedroom to 40% brightness\tHassLightSet ; area=bedroom ; brightness=40",
  "start a timer for 5 minutes\tHassStartTimer ; minutes=5",
  "what time is it\tHassGetCurrentTime",
  "pause the music\tHassMediaPause",
] as const;

export const COMMAND_DATA = COMMAND_LINES.join("\n") + "\n";
