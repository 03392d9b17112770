package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// The synthetic roll is a pure function of the student's index, so that a
// later run with --target and --school finds the same student numbers and
// ID numbers without the files.

// initialPassword is every student's first password (R5, the default
// policy); newPassword is what the load test changes it to. Neither is a
// secret: the school is synthetic.
const (
	initialPassword = "111111"
	newPassword     = "Lt-pay-2026x"
)

// studentNo is the i-th student's number (i from 0).
func studentNo(i int) string { return fmt.Sprintf("LT%08d", i+1) }

// idCard is the i-th student's 18-digit resident ID number: a Chongqing
// district, a 2008 birth date, a sequence number and the GB 11643 check
// character, which the importer verifies.
func idCard(i int) string {
	day := 1 + i%28
	month := 1 + (i/28)%12
	first17 := fmt.Sprintf("5001012008%02d%02d%03d", month, day, (i/336)%1000)
	return first17 + string(idCheck(first17))
}

// idCheck is the GB 11643-1999 check character of 17 digits.
func idCheck(first17 string) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(first17[i]-'0') * weights[i]
	}
	return "10X98765432"[sum%11]
}

var (
	surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
	given    = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉斌宇浩凯健俊帆帅旭宁琳晨欣怡佳雪梦婷颖")
	items    = []string{"学费", "住宿费", "提档费", "教材费", "军训服装费", "体检费", "保险费", "网络费"}
	// amounts in fen per item, all well under the ICBC test card's single
	// limit of 50,000.00 yuan per order.
	amounts = []int64{650000, 120000, 5000, 52000, 18000, 6000, 15000, 3000}
)

// studentName is a plausible Chinese name for the i-th student.
func studentName(i int) string {
	return string(surnames[i%len(surnames)]) + string(given[(i/len(surnames))%len(given)]) + string(given[(i*7+3)%len(given)])
}

// billLine is one bill row of the synthetic school.
type billLine struct {
	project, item string
	amount        int64 // fen
	mandatory     bool
}

// billsOf is the i-th student's bill: items items spread round-robin over
// projects projects; in a project, the third and later items are
// optional (可选), the others mandatory, so that each project is one pay
// flow (its unpaid mandatory items).
func billsOf(i, nItems, projects int) []billLine {
	var out []billLine
	perProject := map[int]int{}
	for k := range nItems {
		p := k % projects
		n := perProject[p]
		perProject[p]++
		name := items[n%len(items)]
		if n >= len(items) {
			name += strconv.Itoa(n/len(items) + 1)
		}
		amt := amounts[(n+p)%len(amounts)] + int64(i%7)*100
		out = append(out, billLine{project: fmt.Sprintf("2026学年收费项目%02d", p+1), item: name, amount: amt, mandatory: n < 2})
	}
	return out
}

// writeRoll writes students.csv and bills.csv for students [0, n) into dir.
func writeRoll(dir string, n, nItems, projects int) (students, bills string, err error) {
	students, bills = filepath.Join(dir, "students.csv"), filepath.Join(dir, "bills.csv")
	write := func(path, header string, row func(w *bufio.Writer, i int)) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		w.WriteString(header + "\n")
		for i := range n {
			row(w, i)
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write(students, "student_no,name,id_card,grade,major,class,phone", func(w *bufio.Writer, i int) {
		fmt.Fprintf(w, "%s,%s,%s,2026,压力测试专业,压测%02d班,\n", studentNo(i), studentName(i), idCard(i), i/50+1)
	}); err != nil {
		return "", "", err
	}
	err = write(bills, "student_no,project,item,amount,mandatory", func(w *bufio.Writer, i int) {
		for _, b := range billsOf(i, nItems, projects) {
			fmt.Fprintf(w, "%s,%s,%s,%d.%02d,%t\n", studentNo(i), b.project, b.item, b.amount/100, b.amount%100, b.mandatory)
		}
	})
	return students, bills, err
}

// prepareSchool creates the school on db and imports the roll through the
// command line, as a finance office would.
func prepareSchool(ctx context.Context, bin, db, dir, code string, n, nItems, projects int) error {
	students, bills, err := writeRoll(dir, n, nItems, projects)
	if err != nil {
		return err
	}
	for _, args := range [][]string{
		{"school", "create", "--db", db, "--code", code, "--name", "压力测试学院（" + code + "）", "--region-code", "500000", "--region-name", "重庆市"},
		{"import", "students", "--db", db, "--school", code, students},
		{"import", "bills", "--db", db, "--school", code, bills},
	} {
		if _, err := runCLI(ctx, bin, args...); err != nil {
			return err
		}
	}
	return nil
}
