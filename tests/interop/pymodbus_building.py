#!/usr/bin/env python3
"""A building made of pymodbus devices (a Modbus implementation written elsewhere), for
the interop suite: unit 1 a keypad panel per docs/modbus-keypad.md holding one entry
("2580", sequence 7) that never leaves its queue (a static datastore), unit 2 a 4-channel
relay board, unit 3 an 8-channel input module with input 2 on. Unit 9 does not exist.
Usage: pymodbus_building.py tcp PORT | rtu DEVICE (9600 baud, 8N1)"""
import asyncio
import sys

from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus import FramerType
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer


def block(values):
    # Address 1 of a sequential block is protocol address 0.
    return ModbusSequentialDataBlock(1, values)


def device(ir=None, hr=None, co=None, di=None):
    return ModbusDeviceContext(
        ir=block(ir or [0] * 16), hr=block(hr or [0] * 16), co=block(co or [False] * 16), di=block(di or [False] * 16)
    )


keypad_input = [1, 1, 7, 1, 4, 0x3235, 0x3830, 0, 0, 0, 0]  # heartbeat, depth, seq, digits, len, "25" "80"
context = ModbusServerContext(
    devices={
        1: device(ir=keypad_input + [0] * 5),
        2: device(co=[False] * 4 + [False] * 12),
        3: device(di=[False, True] + [False] * 14),
    },
    single=False,
)
if sys.argv[1] == "tcp":
    asyncio.run(StartAsyncTcpServer(context=context, address=("127.0.0.1", int(sys.argv[2]))))
else:
    asyncio.run(
        StartAsyncSerialServer(
            context=context, framer=FramerType.RTU, port=sys.argv[2], baudrate=9600, parity="N", stopbits=1, bytesize=8
        )
    )
