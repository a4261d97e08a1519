// The ESP32 fleet peer (serve_esp32.c) and the esp-mqtt client its platform publishes through.
#ifndef EDGELLM_SERVE_ESP32_H
#define EDGELLM_SERVE_ESP32_H
#include "mqtt_client.h"

// FreeRTOS task: Wi-Fi, SNTP, the model under wasm3, the module's agent over esp-mqtt.
void serve_task(void *arg);
// plat_mqtt_publish goes to this client while set (NULL: no broker).
void esp32_set_mqtt_client(esp_mqtt_client_handle_t c);
#endif
