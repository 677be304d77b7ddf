// Behaviour shared by every page: confirmations and countdowns. Each concern is its own module.
import { bindConfirms } from "./confirm.js";
import { startCountdowns } from "./countdown.js";

bindConfirms(document);
startCountdowns(document);
