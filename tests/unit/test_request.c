/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Request validation: every wrong request gets the contract's error code. */
#include <string.h>

#include "check.h"
#include "request.h"

static int parse_text(const char *text, cam_request *req)
{
	json_error_t jerr;
	json_t *body = json_loads(text, JSON_DECODE_ANY, &jerr);
	char err[256] = "";
	int code = cam_request_parse(body, req, err, sizeof(err));
	if(code)
		CHECK(err[0] != '\0');   /* every error has a readable reason */
	json_decref(body);
	return code;
}

static void test_codes(void)
{
	static const struct {
		const char *body;
		int code;
	} cases[] = {
		{"[]", CAM_ERROR_NO_MESSAGE},
		{"\"watch\"", CAM_ERROR_NO_MESSAGE},
		{"42", CAM_ERROR_NO_MESSAGE},
		{"null", CAM_ERROR_NO_MESSAGE},
		{"{}", CAM_ERROR_MISSING_ELEMENT},
		{"{\"req\":\"watch\"}", CAM_ERROR_MISSING_ELEMENT},
		{"{\"request\":5}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":null}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":[\"watch\"]}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"\"}", CAM_ERROR_UNKNOWN_REQUEST},
		{"{\"request\":\"WATCH\"}", CAM_ERROR_UNKNOWN_REQUEST},
		{"{\"request\":\"destroy\"}", CAM_ERROR_UNKNOWN_REQUEST},
		{"{\"request\":\"watch\",\"pin\":1}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"watch\",\"pin\":null}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"watch\",\"pin\":\"1234\"}", 0},
		{"{\"request\":\"watch\"}", 0},
		{"{\"request\":\"start\"}", 0},
		{"{\"request\":\"stop\",\"extra\":true}", 0},
		{"{\"request\":\"info\"}", 0},
		{"{\"request\":\"keyframe\"}", 0},
		{"{\"request\":\"send\"}", CAM_ERROR_MISSING_ELEMENT},
		{"{\"request\":\"send\",\"data\":null}", 0},
		{"{\"request\":\"send\",\"data\":{\"x\":1}}", 0},
		{"{\"request\":\"list\",\"admin_key\":7}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"list\"}", 0},
		{"{\"request\":\"configure\",\"admin_key\":\"k\"}", CAM_ERROR_MISSING_ELEMENT},
		{"{\"request\":\"configure\",\"bitrate\":\"1000000\"}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"configure\",\"bitrate\":1.5}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"configure\",\"bitrate\":10}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"configure\",\"bitrate\":500000}", 0},
		{"{\"request\":\"configure\",\"fps\":0}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"configure\",\"fps\":61}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"configure\",\"fps\":15}", 0},
		{"{\"request\":\"configure\",\"keyframe_interval\":-1}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"configure\",\"keyframe_interval\":0}", 0},
		{"{\"request\":\"configure\",\"width\":320}", CAM_ERROR_MISSING_ELEMENT},
		{"{\"request\":\"configure\",\"width\":321,\"height\":240}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"configure\",\"width\":8000,\"height\":240}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"configure\",\"width\":320,\"height\":240}", 0},
		{"{\"request\":\"kick\"}", CAM_ERROR_MISSING_ELEMENT},
		{"{\"request\":\"kick\",\"id\":\"12\"}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"kick\",\"id\":0}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"kick\",\"id\":-5}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"kick\",\"id\":12}", 0},
		{"{\"request\":\"take_control\",\"pin\":false}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"release_control\"}", 0},
	};
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cam_request req;
		int code = parse_text(cases[i].body, &req);
		if(code != cases[i].code)
			fprintf(stderr, "  body %s\n", cases[i].body);
		CHECK_EQ_INT(code, cases[i].code);
	}
	cam_request req;
	char err[64];
	CHECK_EQ_INT(cam_request_parse(NULL, &req, err, sizeof(err)), CAM_ERROR_NO_MESSAGE);
}

static void test_fields(void)
{
	cam_request req;
	CHECK_EQ_INT(parse_text("{\"request\":\"configure\",\"bitrate\":300000,\"fps\":20}", &req), 0);
	CHECK_EQ_INT(req.kind, CAM_REQ_CONFIGURE);
	CHECK_EQ_INT(req.bitrate, 300000);
	CHECK_EQ_INT(req.fps, 20);
	CHECK_EQ_INT(req.keyframe_interval, -1);
	CHECK(cam_request_is_admin(req.kind));
	CHECK(!cam_request_is_async(req.kind));
	CHECK_EQ_INT(parse_text("{\"request\":\"kick\",\"id\":9007199254740992}", &req), 0);
	CHECK(req.id == UINT64_C(9007199254740992));
	CHECK_EQ_INT(parse_text("{\"request\":\"watch\"}", &req), 0);
	CHECK(cam_request_is_async(req.kind));
	CHECK(!cam_request_is_admin(req.kind));
}

static void test_huge_strings(void)
{
	/* A 1 MB request name and a 1 MB pin: rejected, and the reason is short. */
	size_t n = 1 << 20;
	char *big = malloc(n + 1);
	memset(big, 'A', n);
	big[n] = '\0';
	json_t *body = json_pack("{ss}", "request", big);
	cam_request req;
	char err[256];
	CHECK_EQ_INT(cam_request_parse(body, &req, err, sizeof(err)), CAM_ERROR_UNKNOWN_REQUEST);
	CHECK(strlen(err) < 100);
	json_decref(body);
	body = json_pack("{ssss}", "request", "watch", "pin", big);
	CHECK_EQ_INT(cam_request_parse(body, &req, err, sizeof(err)), CAM_ERROR_INVALID_ELEMENT);
	json_decref(body);
	/* Control characters in an unknown name do not reach the reason. */
	body = json_pack("{ss}", "request", "a\nb\"c");
	CHECK_EQ_INT(cam_request_parse(body, &req, err, sizeof(err)), CAM_ERROR_UNKNOWN_REQUEST);
	CHECK(strchr(err, '\n') == NULL);
	json_decref(body);
	free(big);
}

/* Parses a request and judges its authorisation (the request borrows from
 * the JSON, so both happen before the JSON is freed). */
static int auth_code(const cam_config *cfg, const char *text)
{
	json_error_t jerr;
	json_t *body = json_loads(text, 0, &jerr);
	cam_request req;
	char err[128] = "";
	int code = cam_request_parse(body, &req, err, sizeof(err));
	if(code == 0)
		code = cam_request_check_auth(cfg, &req, err, sizeof(err));
	json_decref(body);
	return code;
}

static void test_auth(void)
{
	cam_config cfg;
	cam_config_defaults(&cfg);
	char err[128];
	/* No admin_key configured: admin requests are refused. */
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"list\",\"admin_key\":\"x\"}"), CAM_ERROR_UNAUTHORIZED);
	cam_config_set(&cfg, "admin_key", "secret", err, sizeof(err));
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"list\",\"admin_key\":\"x\"}"), CAM_ERROR_UNAUTHORIZED);
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"list\",\"admin_key\":\"secret\"}"), 0);
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"kick\",\"id\":3,\"admin_key\":\"secret\"}"), 0);
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"configure\",\"fps\":3,\"admin_key\":\"secretX\"}"), CAM_ERROR_UNAUTHORIZED);
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"list\",\"admin_key\":\"secre\"}"), CAM_ERROR_UNAUTHORIZED);
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"list\",\"admin_key\":\"\"}"), CAM_ERROR_UNAUTHORIZED);
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"list\"}"), CAM_ERROR_UNAUTHORIZED);
	/* pin for watch */
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"watch\"}"), 0);
	cam_config_set(&cfg, "pin", "1234", err, sizeof(err));
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"watch\"}"), CAM_ERROR_UNAUTHORIZED);
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"watch\",\"pin\":\"1235\"}"), CAM_ERROR_UNAUTHORIZED);
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"watch\",\"pin\":\"1234\"}"), 0);
	/* info needs nothing */
	CHECK_EQ_INT(auth_code(&cfg, "{\"request\":\"info\"}"), 0);
	cam_config_clear(&cfg);
}

static int authorized_code(const cam_config *cfg, const char *text)
{
	json_error_t jerr;
	json_t *body = json_loads(text, 0, &jerr);
	cam_request req;
	char err[128] = "";
	int code = cam_request_parse_authorized(body, cfg, &req, err, sizeof(err));
	json_decref(body);
	return code;
}

/* Without the right key, an admin request's other faults are not revealed. */
static void test_auth_first_for_admin(void)
{
	cam_config cfg;
	cam_config_defaults(&cfg);
	char err[64];
	cam_config_set(&cfg, "admin_key", "k", err, sizeof(err));
	CHECK_EQ_INT(cam_config_finish(&cfg, err, sizeof(err)), 0);
	CHECK_EQ_INT(authorized_code(&cfg, "{\"request\":\"configure\",\"fps\":1000,\"admin_key\":\"x\"}"), CAM_ERROR_UNAUTHORIZED);
	CHECK_EQ_INT(authorized_code(&cfg, "{\"request\":\"configure\",\"fps\":1000}"), CAM_ERROR_UNAUTHORIZED);
	CHECK_EQ_INT(authorized_code(&cfg, "{\"request\":\"kick\",\"admin_key\":5}"), CAM_ERROR_UNAUTHORIZED);
	CHECK_EQ_INT(authorized_code(&cfg, "{\"request\":\"configure\",\"fps\":1000,\"admin_key\":\"k\"}"), CAM_ERROR_INVALID_ELEMENT);
	CHECK_EQ_INT(authorized_code(&cfg, "{\"request\":\"kick\",\"admin_key\":\"k\"}"), CAM_ERROR_MISSING_ELEMENT);
	CHECK_EQ_INT(authorized_code(&cfg, "{\"request\":\"kick\",\"admin_key\":\"k\",\"id\":3}"), 0);
	CHECK_EQ_INT(authorized_code(&cfg, "{\"request\":\"watch\",\"pin\":3}"), CAM_ERROR_INVALID_ELEMENT);
	CHECK_EQ_INT(authorized_code(&cfg, "{\"request\":\"nope\"}"), CAM_ERROR_UNKNOWN_REQUEST);
	cam_config_clear(&cfg);
}

/* Several cameras: requests name one (or mean the first); each camera's
 * pin guards its own watch and snapshot; admin requests that change a
 * camera must name it. */
static void test_cameras(void)
{
	cam_config cfg;
	cam_config_defaults(&cfg);
	char err[128];
	cam_config_set(&cfg, "admin_key", "k", err, sizeof(err));
	cam_camera_config *front = cam_config_add_camera(&cfg, "front", err, sizeof(err));
	cam_camera_config *rear = cam_config_add_camera(&cfg, "rear", err, sizeof(err));
	CHECK(front && rear);
	CHECK_EQ_INT(cam_camera_config_set(rear, "pin", "9", err, sizeof(err)), 0);
	CHECK_EQ_INT(cam_config_finish(&cfg, err, sizeof(err)), 0);
	const char *ok[] = {
		"{\"request\":\"watch\"}",
		"{\"request\":\"watch\",\"camera\":\"front\"}",
		"{\"request\":\"watch\",\"camera\":\"rear\",\"pin\":\"9\"}",
		"{\"request\":\"snapshot\",\"camera\":\"rear\",\"pin\":\"9\",\"width\":320,\"quality\":50}",
		"{\"request\":\"info\",\"camera\":\"rear\"}",
		"{\"request\":\"cameras\"}",
		"{\"request\":\"list\",\"admin_key\":\"k\"}",
		"{\"request\":\"record\",\"admin_key\":\"k\",\"camera\":\"rear\"}",
		"{\"request\":\"stop_record\",\"admin_key\":\"k\",\"camera\":\"front\"}",
		"{\"request\":\"configure\",\"admin_key\":\"k\",\"camera\":\"front\",\"fps\":10}",
	};
	for(size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		CHECK_EQ_INT(authorized_code(&cfg, ok[i]), 0);
	struct { const char *text; int code; } bad[] = {
		{"{\"request\":\"watch\",\"camera\":\"side\"}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"watch\",\"camera\":5}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"watch\",\"camera\":\"a b\"}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"watch\",\"camera\":\"\"}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"watch\",\"camera\":\"rear\"}", CAM_ERROR_UNAUTHORIZED},
		{"{\"request\":\"snapshot\",\"camera\":\"rear\",\"pin\":\"8\"}", CAM_ERROR_UNAUTHORIZED},
		{"{\"request\":\"snapshot\",\"width\":321}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"snapshot\",\"width\":8}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"snapshot\",\"quality\":0}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"snapshot\",\"quality\":\"high\"}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"record\",\"admin_key\":\"k\"}", CAM_ERROR_MISSING_ELEMENT},
		{"{\"request\":\"configure\",\"admin_key\":\"k\",\"fps\":10}", CAM_ERROR_MISSING_ELEMENT},
		{"{\"request\":\"record\",\"camera\":\"front\"}", CAM_ERROR_UNAUTHORIZED},
		{"{\"request\":\"record\",\"admin_key\":\"x\",\"camera\":\"nope\"}", CAM_ERROR_UNAUTHORIZED},
		{"{\"request\":\"record\",\"admin_key\":\"k\",\"camera\":\"nope\"}", CAM_ERROR_INVALID_ELEMENT},
		{"{\"request\":\"kick\",\"admin_key\":\"k\",\"id\":3,\"camera\":\"nope\"}", CAM_ERROR_INVALID_ELEMENT},
	};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int code = authorized_code(&cfg, bad[i].text);
		if(code != bad[i].code)
			fprintf(stderr, "  %s gave %d\n", bad[i].text, code);
		CHECK_EQ_INT(code, bad[i].code);
	}
	/* Which camera a request resolves to. */
	json_t *body = json_loads("{\"request\":\"info\",\"camera\":\"rear\"}", 0, NULL);
	cam_request req;
	CHECK_EQ_INT(cam_request_parse_authorized(body, &cfg, &req, err, sizeof(err)), 0);
	CHECK_EQ_INT(req.camera_index, 1);
	json_decref(body);
	body = json_loads("{\"request\":\"info\"}", 0, NULL);
	CHECK_EQ_INT(cam_request_parse_authorized(body, &cfg, &req, err, sizeof(err)), 0);
	CHECK_EQ_INT(req.camera_index, 0);
	json_decref(body);
	cam_config_clear(&cfg);
}

static void test_error_json(void)
{
	/* Texts for answers: null for none, empty or not UTF-8. */
	json_t *t = cam_json_text("caf\xc3\xa9");
	CHECK(json_is_string(t));
	json_decref(t);
	CHECK(json_is_null(cam_json_text(NULL)));
	CHECK(json_is_null(cam_json_text("")));
	CHECK(json_is_null(cam_json_text("caf\xe9")));
	json_t *e = cam_error_json(CAM_ERROR_WRONG_STATE, "start before watch");
	CHECK(!strcmp(json_string_value(json_object_get(e, "camera")), "event"));
	CHECK_EQ_INT(json_integer_value(json_object_get(e, "error_code")), 487);
	CHECK(!strcmp(json_string_value(json_object_get(e, "error")), "start before watch"));
	json_decref(e);
}

int main(void)
{
	RUN(test_codes);
	RUN(test_fields);
	RUN(test_huge_strings);
	RUN(test_auth);
	RUN(test_auth_first_for_admin);
	RUN(test_cameras);
	RUN(test_error_json);
	return check_exit();
}
