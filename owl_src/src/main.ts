// Entry of the module's backend bundle: each import registers one screen.
import "./bridge_home/bridge_home.ts";
