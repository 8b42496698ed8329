// AudioWorklet processor: hands each block of microphone samples (channel 0) to the page.
class MicCapture extends AudioWorkletProcessor {
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch && ch.length) this.port.postMessage(ch.slice(0));
    return true;
  }
}
registerProcessor('mic-capture', MicCapture);
