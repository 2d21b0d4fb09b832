/* The libvarnishapi headers edgeship-varnishlog binds (bindgen input, see build.rs). */
#include <stdint.h>
#include <stdio.h> /* vsl.h names FILE without including it */
#include "vapi/vsm.h"
#include "vapi/vsl.h"
