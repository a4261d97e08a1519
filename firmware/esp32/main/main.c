// ESP32 entry. With CONFIG_EDGELLM_SERVE: a fleet peer (serve_esp32.c: the module's agent over
// esp-mqtt). Otherwise: maps the module and model partitions and generates CONFIG_EDGELLM_PROMPT
// with weights left in flash, an int8 KV cache and linear memory capped at
// CONFIG_EDGELLM_MAX_MEMORY.
#include <stdio.h>
#include <string.h>
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_heap_caps.h"
#include "fw.h"
#include "platform.h"
#include "serve_esp32.h"

static void generate_task(void *arg) {
  (void)arg;
  static char err[256];
  plat_blob mod = {0}, model = {0};
  fw *f = NULL;
  printf("edgellm: largest free block %u bytes\n", (unsigned)heap_caps_get_largest_free_block(MALLOC_CAP_8BIT));
  if (plat_map("module", &mod, err, sizeof err) || plat_map("model", &model, err, sizeof err)) goto fail;
  fw_config c = {
    .module = mod.data, .module_len = mod.size, .model = model.data, .model_len = model.size,
    .ctx = CONFIG_EDGELLM_CTX, .kv_int8 = 1, .host_weights = 1,
    .max_memory = CONFIG_EDGELLM_MAX_MEMORY, .stack_bytes = CONFIG_EDGELLM_WASM_STACK,
  };
  if (fw_open(&f, &c, err, sizeof err)) goto fail;
  fw_gen g = { .prompt = CONFIG_EDGELLM_PROMPT, .prompt_len = strlen(CONFIG_EDGELLM_PROMPT),
               .steps = CONFIG_EDGELLM_STEPS, .temperature = 0, .topp = 0.9f, .seed = 42 };
  fw_stats st;
  if (fw_generate(f, &g, &st, err, sizeof err)) goto fail;
  printf("\nachieved tok/s: %.2f (%d positions, linear memory %u bytes, free heap %u)\n",
         st.tokens > 1 ? (st.tokens - 1) / (st.elapsed_us / 1e6) : 0.0, (int)st.tokens,
         (unsigned)st.memory_bytes, (unsigned)heap_caps_get_free_size(MALLOC_CAP_8BIT));
  goto done;
fail:
  printf("edgellm: error: %s\n", err);
done:
  fw_close(f);
  plat_unmap(&model);
  plat_unmap(&mod);
  vTaskDelete(NULL);
}

void app_main(void) {
  // The interpreter recurses on the C stack per wasm call; 32 KiB covers the module's depth.
#if CONFIG_EDGELLM_SERVE
  xTaskCreate(serve_task, "edgellm", 32 * 1024, NULL, 5, NULL);
#else
  xTaskCreate(generate_task, "edgellm", 32 * 1024, NULL, 5, NULL);
#endif
}
