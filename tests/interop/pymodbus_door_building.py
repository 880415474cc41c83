#!/usr/bin/env python3
"""A door building made of pymodbus devices (a Modbus implementation written elsewhere),
for the daemon's interop test: units 1 and 4 keypad panels per docs/modbus-keypad.md with
empty queues and heartbeats that move five times a second, unit 2 a 4-channel relay
board, unit 3 an 8-channel input module. Writing 1 to holding register 10 of a panel
freezes its heartbeat (a hung panel); 0 lets it move again. Every start is a board fresh
from power on: every coil off.
Usage: pymodbus_door_building.py PORT   (pymodbus 3.16: a device's `action` hook)"""
import asyncio
import sys
import time

from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import StartAsyncTcpServer

PANELS = (1, 4)
FREEZE_REGISTER = 10
frozen = {unit: None for unit in PANELS}  # None: moving; else the heartbeat it froze at


def block(values):
    # Address 1 of a sequential block is protocol address 0.
    return ModbusSequentialDataBlock(1, values)


def heartbeat():
    return int(time.monotonic() * 5) % 65536


def panel_action(unit):
    async def action(function_code, start_address, address, count, registers, set_values):
        if function_code == 6 and address == FREEZE_REGISTER and set_values:
            frozen[unit] = heartbeat() if set_values[0] else None
        if function_code == 4 and address <= 0 < address + count:
            beat = frozen[unit] if frozen[unit] is not None else heartbeat()
            registers[0 - start_address] = beat
        return None

    return action


devices = {}
for unit in (1, 2, 3, 4):
    dev = ModbusDeviceContext(ir=block([0] * 16), hr=block([0] * 16), co=block([False] * 16), di=block([False] * 16))
    if unit in PANELS:
        dev.simdevice.action = panel_action(unit)
    devices[unit] = dev
context = ModbusServerContext(devices=devices, single=False)

asyncio.run(StartAsyncTcpServer(context=context, address=("127.0.0.1", int(sys.argv[1]))))
