//go:build ignore

// Command gen regenerates the demo import files in demo/:
//
//	go run demo/gen/main.go            # from the repository root
//	go run demo/gen/main.go -out DIR
//
// Everything is deterministic: running it twice produces identical CSV files
// (bills.xlsx differs only in workbook metadata, if at all).
package main

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"campuspay/internal/money"
)

// rng is splitmix64: tiny, deterministic across Go versions.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9E3779B97F4A7C15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

var surnames = []string{
	"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
	"郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
	"彭", "曾", "肖", "田", "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏",
	"吕", "丁", "任", "沈", "姚", "卢", "钟", "谭", "陆", "汪", "范", "石", "廖", "贾", "夏",
	"付", "方", "邹", "熊", "秦", "江", "雷", "龙", "陶", "黎", "向", "冉", "欧阳", "司马",
}

var maleChars = []string{"伟", "强", "磊", "洋", "勇", "军", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏",
	"浩", "宇", "轩", "博", "文", "俊", "凯", "鑫", "峰", "晨", "睿", "航", "川", "渝", "嘉"}

var femaleChars = []string{"芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "婷", "雪", "琳", "晶", "欣", "怡", "颖",
	"佳", "思", "雨", "梦", "璐", "瑶", "涵", "萱", "月", "倩", "蕾", "薇", "洁", "露", "燕"}

// Districts of 重庆市 (region 500000): the first six digits of an ID number.
var districts = []string{
	"500101", "500102", "500103", "500104", "500105", "500106", "500107", "500108",
	"500109", "500110", "500112", "500113", "500115", "500116", "500117", "500118",
	"500151", "500235", "500236", "500240",
}

type major struct {
	name, short string
	tuition     money.Fen
	dorm        money.Fen
	textbooks   money.Fen
}

var majors = []major{
	{"计算机科学与技术", "计科", 6500_00, 1200_00, 520_00},
	{"软件工程", "软工", 6500_00, 1500_00, 520_00},
	{"会计学", "会计", 5800_00, 1200_00, 480_00},
	{"护理学", "护理", 5800_00, 1200_00, 480_00},
	{"机械设计制造及其自动化", "机械", 5800_00, 1200_00, 480_00},
	{"汉语言文学", "汉文", 5800_00, 1200_00, 420_00},
}

type student struct {
	no, name, id, grade, major, class, phone string
	m                                        major
}

// idCheckChar is the GB 11643-1999 check character of 17 digits.
func idCheckChar(first17 string) byte {
	w := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * w[i]
	}
	return "10X98765432"[sum%11]
}

func makeStudent(r *rng, no string, m major, class string, birthBase time.Time) student {
	male := r.intn(2) == 0
	chars := femaleChars
	if male {
		chars = maleChars
	}
	name := surnames[r.intn(len(surnames))] + chars[r.intn(len(chars))]
	if r.intn(3) > 0 {
		name += chars[r.intn(len(chars))]
	}
	birth := birthBase.AddDate(0, 0, r.intn(365))
	seq := r.intn(100)*10 + r.intn(5)*2 // even digit: female
	if male {
		seq++
	}
	first17 := districts[r.intn(len(districts))] + birth.Format("20060102") + fmt.Sprintf("%03d", seq)
	id := first17 + string(idCheckChar(first17))
	phone := fmt.Sprintf("13%d%08d", r.intn(10), r.intn(100_000_000))
	return student{no: no, name: name, id: id, grade: "2026", major: m.name, class: class, phone: phone, m: m}
}

func main() {
	out := flag.String("out", "demo", "output directory")
	flag.Parse()
	r := rng(20260901)
	birthBase := time.Date(2007, 9, 1, 0, 0, 0, 0, time.UTC)

	// 300 students, 50 per major, two classes of 25 each.
	var students []student
	for i := 0; i < 300; i++ {
		m := majors[i/50]
		class := fmt.Sprintf("%s26%02d班", m.short, (i%50)/25+1)
		students = append(students, makeStudent(&r, fmt.Sprintf("202601%04d", i+1), m, class, birthBase))
	}

	sHeader := []string{"学号", "姓名", "身份证号", "年级", "专业", "班级", "手机号"}
	var sRows [][]string
	for _, s := range students {
		sRows = append(sRows, []string{s.no, s.name, s.id, s.grade, s.major, s.class, s.phone})
	}
	writeCSV(filepath.Join(*out, "students.csv"), append([][]string{sHeader}, sRows...), false)

	// Bills: two projects per student.
	bHeader := []string{"学号", "收费项目", "子项目", "应缴金额", "必缴"}
	type bill struct {
		no, project, item string
		amount            money.Fen
		mandatory         bool
	}
	var bills []bill
	const p1, p2 = "2026学年学费住宿费", "2026学年代收费"
	for _, s := range students {
		bills = append(bills,
			bill{s.no, p1, "学费", s.m.tuition, true},
			bill{s.no, p1, "住宿费", s.m.dorm, true},
			bill{s.no, p1, "提档费", 50_00, false},
			bill{s.no, p2, "教材费", s.m.textbooks, false},
			bill{s.no, p2, "军训服装费", 150_00, false},
			bill{s.no, p2, "体检费", 60_00, false},
		)
	}
	yesNo := func(b bool) string {
		if b {
			return "是"
		}
		return "否"
	}
	bRows := [][]string{bHeader}
	for _, b := range bills {
		bRows = append(bRows, []string{b.no, b.project, b.item, b.amount.Yuan(), yesNo(b.mandatory)})
	}
	writeCSV(filepath.Join(*out, "bills.csv"), bRows, false)

	// bills.xlsx: the same content; amounts are numeric cells shown as 0.00.
	x := excelize.NewFile()
	defer x.Close()
	const sheet = "收费明细"
	must(x.SetSheetName("Sheet1", sheet))
	style, err := x.NewStyle(&excelize.Style{NumFmt: 2}) // 0.00
	must(err)
	must(x.SetSheetRow(sheet, "A1", &bHeader))
	for i, b := range bills {
		row := i + 2
		cell := "A" + strconv.Itoa(row)
		must(x.SetSheetRow(sheet, cell, &[]any{b.no, b.project, b.item, float64(b.amount) / 100, yesNo(b.mandatory)}))
	}
	must(x.SetCellStyle(sheet, "D2", "D"+strconv.Itoa(len(bills)+1), style))
	must(x.SetColWidth(sheet, "A", "A", 14))
	must(x.SetColWidth(sheet, "B", "B", 22))
	must(x.SetColWidth(sheet, "C", "C", 12))
	xlsxPath := filepath.Join(*out, "bills.xlsx")
	must(x.SaveAs(xlsxPath))
	must(os.Chmod(xlsxPath, 0o644))

	// students_gb18030.csv: five more students, English headers, GB18030.
	gb := [][]string{{"student_no", "name", "id_card", "grade", "major", "class", "phone"}}
	for i := 0; i < 5; i++ {
		s := makeStudent(&r, fmt.Sprintf("202602%04d", i+1), majors[2], "会计2603班", birthBase)
		gb = append(gb, []string{s.no, s.name, s.id, s.grade, s.major, s.class, s.phone})
	}
	writeCSV(filepath.Join(*out, "students_gb18030.csv"), gb, true)

	// bills_bad.csv: good lines with exactly three bad ones (lines 5, 8, 12).
	bad := [][]string{
		bHeader, // line 1
		{"2026010001", p1, "学费", "6500.00", "是"},       // 2
		{"2026010001", p1, "住宿费", "1200.00", "是"},      // 3
		{"2026010001", p1, "提档费", "50.00", "否"},        // 4
		{"2026010002", p1, "学费", "58OO", "是"},          // 5: letter O instead of zero
		{"2026010002", p1, "住宿费", "1200.00", "是"},      // 6
		{"2026010002", p1, "提档费", "50.00", "否"},        // 7
		{"", p2, "教材费", "480.00", "否"},                 // 8: empty student number
		{"2026010003", p1, "学费", "6500.00", "是"},       // 9
		{"2026010003", p1, "住宿费", "1200.00", "是"},      // 10
		{"2026010003", p2, "教材费", "520.00", "否"},       // 11
		{"2026010003", p2, "军训服装费", "150.00", "maybe"}, // 12: not 是/否
		{"2026010003", p2, "体检费", "60.00", "否"},        // 13
	}
	writeCSV(filepath.Join(*out, "bills_bad.csv"), bad, false)
	log.Printf("wrote demo files to %s", *out)
}

func writeCSV(path string, rows [][]string, gb18030 bool) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = false
	must(w.WriteAll(rows))
	b := buf.Bytes()
	if gb18030 {
		var err error
		b, err = simplifiedchinese.GB18030.NewEncoder().Bytes(b)
		must(err)
	}
	must(os.WriteFile(path, b, 0o644))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
