/* The columns of exported and imported spreadsheets (export, import). */
#include <string.h>

#include "ctl.h"

static const ctl_column visit_columns[] = {
	{ "id", "编号", false },
	{ "village", "村", false },
	{ "date", "日期", true },
	{ "people", "人数", true },
	{ "category", "类别", true },
	{ "names", "姓名", true },
	{ "phone", "电话", true },
	{ "escalated", "越级", true },
	{ "summary", "事由", true },
	{ "status", "状态", false },
	{ "conflicts", "冲突", false },
	{ 0 },
};

static const ctl_column letter_columns[] = {
	{ "id", "编号", false },
	{ "village", "村", false },
	{ "date", "日期", true },
	{ "category", "类别", true },
	{ "names", "姓名", true },
	{ "summary", "事由", true },
	{ "status", "状态", false },
	{ "conflicts", "冲突", false },
	{ 0 },
};

static const ctl_column case_columns[] = {
	{ "id", "编号", false },
	{ "village", "村", false },
	{ "category", "类别", false },
	{ "title", "案由", false },
	{ "from", "来源", false },
	{ "received", "收到日期", false },
	{ "opened_on", "立案日期", false },
	{ "status", "状态", false },
	{ "leader", "包案领导", false },
	{ "accepted_on", "受理日期", false },
	{ "workgroups", "工作组", false },
	{ "replied_on", "答复日期", false },
	{ "reply", "答复", false },
	{ "due", "答复期限", false },
	{ "extended_on", "延期日期", false },
	{ "extension", "延期理由", false },
	{ "deadline", "法定期限", false },
	{ "closed_on", "办结日期", false },
	{ "outcome", "办结结果", false },
	{ "reopened_on", "重新办理日期", false },
	{ "reason", "重新办理理由", false },
	{ "conflicts", "冲突", false },
	{ 0 },
};

static const ctl_column risk_columns[] = {
	{ "id", "编号", false },
	{ "village", "村", false },
	{ "date", "日期", false },
	{ "level", "等级", false },
	{ "summary", "内容", false },
	{ "status", "状态", false },
	{ "resolved_on", "化解日期", false },
	{ "outcome", "化解结果", false },
	{ "conflicts", "冲突", false },
	{ 0 },
};

static const struct {
	const char *type;
	char kind;
	const ctl_column *columns;
} types[] = {
	{ "visits", 'V', visit_columns },
	{ "letters", 'L', letter_columns },
	{ "cases", 'C', case_columns },
	{ "risks", 'R', risk_columns },
};

const ctl_column *ctl_columns(const char *type, char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].type, type) == 0) {
			*kind = types[i].kind;
			return types[i].columns;
		}
	return NULL;
}
