"""The case engine: cases move through their type's state machine, each step's SLA clock starts
and stops, timers warn, breach and escalate, and every change is recorded for replay. It emits
domain events; features (notifications, CRM write-back) subscribe to them."""
