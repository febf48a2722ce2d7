"""The device emulator: synthetic homes (load, PV, battery) served over Modbus through a
register profile or the SunSpec map, for the demo and the tests (`peerwatt devices
simulate`). The agent never imports it."""
